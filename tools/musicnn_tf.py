"""musicnn's TensorFlow side, run once in a throw-away environment; never a project dependency.

Jobs (run from the repository root):

    convert    the TF-1 checkpoints in the musicnn 0.1.0 wheel (MSD_musicnn, MTT_musicnn)
               → assets/encoders/musicnn/{msd,mtt}_musicnn.safetensors, with PyTorch layouts
               and our tensor names (the TF name of each is kept in the file's metadata)
    snippets   cut the real-audio test snippets (16 kHz mono FLAC) from Debian's asc-music
               MP3s → tests/encoders/data/musicnn_snippets/
    reference  TensorFlow's outputs on fixed log-mel patches and on those snippets
               → tests/encoders/data/musicnn_reference.npz (the equivalence test reads it
               without TensorFlow)

The environment (Python 3.11; TF 2.15 is the last release whose tf.compat.v1.layers runs
without tf_keras; numpy < 2 because the wheel's float16 log-mel overflows on numpy 2):

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 numpy==1.26.4 librosa==0.11.0 \\
        soundfile==0.14.0 soxr==1.1.0 safetensors==0.8.0
    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn
    unzip -q /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl -d /tmp/musicnn/wheel
    apt-get download asc-music && dpkg-deb -x asc-music_*_all.deb /tmp/asc   # snippets only

    /tmp/tfenv/bin/python tools/musicnn_tf.py convert --wheel /tmp/musicnn/wheel
    /tmp/tfenv/bin/python tools/musicnn_tf.py snippets --asc-dir /tmp/asc/usr/share/games/asc/music
    /tmp/tfenv/bin/python tools/musicnn_tf.py reference --wheel /tmp/musicnn/wheel

The reference builds the graph with the wheel's own `models.define_model` and restores its
checkpoint with a TF Saver, as the wheel's extractor does, but feeds every patch of a clip
in one batch and reads every output of that batch (the wheel's extractor repeats the first
batch's penultimate and cnn features for later patches). Its log-mel is the wheel's own
`extractor.batch_data` on numpy 1.26.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSET_DIR = ROOT / "assets" / "encoders" / "musicnn"
DATA_DIR = ROOT / "tests" / "encoders" / "data"
SNIPPET_DIR = DATA_DIR / "musicnn_snippets"
REFERENCE_FILE = DATA_DIR / "musicnn_reference.npz"

CHECKPOINTS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
N_FRAMES = 187  # 3 s at 16 kHz, hop 256: librosa.time_to_frames(3, ...) + 1, as the wheel
N_MELS = 96
# (source MP3 in asc-music, start s): three moods of Michael Kievernagel's soundtrack.
SNIPPETS = {
    "asc_frontiers": ("frontiers.mp3", 60.0),
    "asc_machine_wars": ("machine_wars.mp3", 40.0),
    "asc_time_to_strike": ("time_to_strike.mp3", 90.0),
}
SNIPPET_S = 6.5  # two whole 3-s patches, so per-patch outputs of a clip can be compared
SNIPPET_SR = 16000

# TF checkpoint scope → our block name, in the order build_musicnn creates them.
# Conv2d kernels are (kh, kw, in, out) in TF, stored (out, in, kh, kw); the mid-end's
# full-height kernels (7, C, 1, 64) are stored as Conv1d weights (64, C, 7); dense kernels
# (in, out) are stored (out, in) as torch.nn.Linear.
CONV2D = {
    "conv2d": "timbral_74",
    "conv2d_1": "timbral_77",
    "conv2d_2": "temporal_128",
    "conv2d_3": "temporal_64",
    "conv2d_4": "temporal_32",
}
CONV1D = {"conv2d_5": "midend_1", "conv2d_6": "midend_2", "conv2d_7": "midend_3"}
DENSE = {"dense": "dense", "dense_1": "head"}
BATCH_NORM = {
    "batch_normalization": "input_bn",
    "batch_normalization_1": "timbral_74.bn",
    "batch_normalization_2": "timbral_77.bn",
    "batch_normalization_3": "temporal_128.bn",
    "batch_normalization_4": "temporal_64.bn",
    "batch_normalization_5": "temporal_32.bn",
    "batch_normalization_6": "midend_1.bn",
    "batch_normalization_7": "midend_2.bn",
    "batch_normalization_8": "midend_3.bn",
    "batch_normalization_9": "pool_bn",
    "batch_normalization_10": "dense.bn",
}
BN_FIELDS = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def synthetic_patches() -> np.ndarray:
    """Fixed log-mel patches (4, 187, 96) float32 for the network-only comparison:
    uniform noise over the range music reaches, a smooth time-frequency pattern, silence
    (all zeros) and a loud flat patch. The equivalence test rebuilds them and checks
    their SHA-256 against the one stored with the reference."""
    rng = np.random.default_rng(2019)
    noise = rng.uniform(0.0, 4.0, size=(N_FRAMES, N_MELS))
    t = np.arange(N_FRAMES)[:, None] / N_FRAMES
    f = np.arange(N_MELS)[None, :] / N_MELS
    pattern = 2.0 + np.sin(2 * np.pi * (3 * t + 2 * f)) + np.cos(2 * np.pi * 7 * t * f)
    silence = np.zeros((N_FRAMES, N_MELS))
    loud = np.full((N_FRAMES, N_MELS), 6.0)
    return np.stack([noise, pattern, silence, loud]).astype(np.float32)


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _labels(wheel: Path, weights: str) -> list[str]:
    sys.path.insert(0, str(wheel))
    from musicnn import configuration

    return list(configuration.MSD_LABELS if weights == "msd" else configuration.MTT_LABELS)


def checkpoint_tensors(reader) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Our tensors (name → float32 array in PyTorch layout) and the TF name of each."""
    names = {n for n in reader.get_variable_to_shape_map() if "Adam" not in n}
    names -= {"beta1_power", "beta2_power"}  # optimizer state, not the model
    tensors: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}

    def put(ours: str, tf_name: str, layout=lambda v: v) -> None:
        tensors[ours] = np.ascontiguousarray(layout(reader.get_tensor(tf_name)), dtype=np.float32)
        origin[ours] = tf_name
        names.discard(tf_name)

    for scope, block in CONV2D.items():
        put(f"{block}.weight", f"{scope}/kernel", lambda k: k.transpose(3, 2, 0, 1))
        put(f"{block}.bias", f"{scope}/bias")
    for scope, block in CONV1D.items():  # (7, C, 1, 64) → (64, C, 7)
        put(f"{block}.weight", f"{scope}/kernel", lambda k: k[:, :, 0, :].transpose(2, 1, 0))
        put(f"{block}.bias", f"{scope}/bias")
    for scope, block in DENSE.items():
        put(f"{block}.weight", f"{scope}/kernel", lambda k: k.T)
        put(f"{block}.bias", f"{scope}/bias")
    for scope, block in BATCH_NORM.items():
        for tf_field, field in BN_FIELDS.items():
            put(f"{block}.{field}", f"{scope}/{tf_field}")
    if names:
        raise SystemExit(f"checkpoint tensors left unconverted: {sorted(names)}")
    return tensors, origin


def convert(wheel: Path, out_dir: Path) -> None:
    import tensorflow as tf
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    for weights, ckpt in CHECKPOINTS.items():
        prefix = str(wheel / "musicnn" / ckpt) + "/"  # the wheel's files are named /.index etc.
        tensors, origin = checkpoint_tensors(tf.compat.v1.train.NewCheckpointReader(prefix))
        stats = ("running_mean", "running_var")
        n_params = sum(v.size for k, v in tensors.items() if not k.endswith(stats))
        about = {
            "format": "apron-musicnn-1",
            "source": f"musicnn 0.1.0 wheel (PyPI), checkpoint {ckpt}",
            "licence": "ISC; Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019",
            "tags": _labels(wheel, weights),
            "tf_names": origin,
        }
        # One metadata entry: safetensors writes several in no fixed order.
        metadata = {"musicnn": json.dumps(about, sort_keys=True)}
        path = out_dir / f"{weights}_musicnn.safetensors"
        save_file(tensors, str(path), metadata=metadata)
        print(f"{ckpt} → {path}: {len(tensors)} tensors, {n_params} parameters")


def cut_snippets(asc_dir: Path, out_dir: Path) -> None:
    import librosa
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (source, start) in SNIPPETS.items():
        y, _ = librosa.load(
            asc_dir / source, sr=SNIPPET_SR, mono=True, offset=start, duration=SNIPPET_S
        )
        path = out_dir / f"{name}.flac"
        sf.write(path, y, SNIPPET_SR, subtype="PCM_16")
        rms = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        print(f"{source} from {start:g} s → {path} ({y.size} samples, {rms:.1f} dBFS)")


def _graph(wheel: Path, ckpt: str):
    """A session holding the wheel's musicnn graph with the checkpoint restored."""
    import tensorflow as tf

    sys.path.insert(0, str(wheel))
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, _tim, _tem, _c1, _c2, _c3, mean_pool, max_pool, penultimate = models.define_model(
            x, is_training, ckpt, 50
        )
        outputs = {
            "taggram": tf.nn.sigmoid(logits),
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
        }
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, str(wheel / "musicnn" / ckpt) + "/")
    return sess, x, is_training, outputs


def reference(wheel: Path, snippet_dir: Path, out: Path) -> None:
    import librosa
    import tensorflow as tf

    sys.path.insert(0, str(wheel))
    from musicnn import extractor

    data: dict[str, np.ndarray] = {}
    synthetic = synthetic_patches()
    data["synthetic_sha256"] = np.array(sha256(synthetic))
    clips: dict[str, np.ndarray] = {}
    for path in sorted(snippet_dir.glob("*.flac")):
        batch, log_mel = extractor.batch_data(str(path), N_FRAMES, N_FRAMES)  # the wheel's own
        y, sr = librosa.load(str(path), sr=SNIPPET_SR)
        mel16 = librosa.feature.melspectrogram(
            y=y, sr=sr, hop_length=256, n_fft=512, n_mels=N_MELS
        ).T.astype(np.float16)  # (T, 96), as batch_data before its log
        if not np.array_equal(np.log10(10000 * mel16 + 1), log_mel):
            raise SystemExit(f"{path}: float16 mel does not reproduce batch_data's log-mel")
        data[f"clip_{path.stem}_mel_f16"] = mel16
        clips[path.stem] = batch.astype(np.float32)
        print(f"{path.name}: log-mel {log_mel.shape}, {batch.shape[0]} patches")
    for weights, ckpt in CHECKPOINTS.items():
        sess, x, is_training, outputs = _graph(wheel, ckpt)
        inputs = {"synthetic": synthetic, **{f"clip_{k}": v for k, v in clips.items()}}
        for key, patches in inputs.items():
            got = sess.run(outputs, feed_dict={x: patches, is_training: False})
            for name, value in got.items():
                data[f"{weights}_{key}_{name}"] = np.asarray(value, dtype=np.float32)
        sess.close()
        # The trap the encoder avoids: the wheel's extractor repeats patch 0's penultimate.
        first = sorted(snippet_dir.glob("*.flac"))[0]
        _, _, feats = extractor.extractor(str(first), model=ckpt, extract_features=True)
        ours = data[f"{weights}_clip_{first.stem}_penultimate"]
        repeated = np.allclose(feats["penultimate"][1], feats["penultimate"][0])
        print(
            f"{ckpt}: wheel extractor repeats patch 0's penultimate: {repeated}; "
            f"batched patches differ: {not np.allclose(ours[1], ours[0])}"
        )
    data["versions"] = np.array(
        json.dumps(
            {"tensorflow": tf.__version__, "numpy": np.__version__, "librosa": librosa.__version__}
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    print(f"reference → {out} ({out.stat().st_size / 1e3:.0f} kB)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python tools/musicnn_tf.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="job", required=True)
    c = sub.add_parser("convert", help="checkpoints → safetensors")
    c.add_argument("--wheel", type=Path, required=True, help="the unzipped musicnn 0.1.0 wheel")
    c.add_argument("--out", type=Path, default=ASSET_DIR)
    s = sub.add_parser("snippets", help="cut the test snippets from asc-music")
    s.add_argument("--asc-dir", type=Path, default=Path("/usr/share/games/asc/music"))
    s.add_argument("--out", type=Path, default=SNIPPET_DIR)
    r = sub.add_parser("reference", help="TensorFlow outputs for the equivalence test")
    r.add_argument("--wheel", type=Path, required=True, help="the unzipped musicnn 0.1.0 wheel")
    r.add_argument("--snippets", type=Path, default=SNIPPET_DIR)
    r.add_argument("--out", type=Path, default=REFERENCE_FILE)
    a = p.parse_args(argv)
    if a.job == "convert":
        convert(a.wheel, a.out)
    elif a.job == "snippets":
        cut_snippets(a.asc_dir, a.out)
    else:
        reference(a.wheel, a.snippets, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
