"""apron_core.encoders.musicnn against TensorFlow, without TensorFlow.

tests/encoders/data/musicnn_reference.npz holds what the musicnn 0.1.0 wheel's own
TensorFlow graph and checkpoints output (`python tools/musicnn_tf.py reference`, in a
throw-away TF 2.15 environment; see that script): per-patch taggram, penultimate layer and
the back end's max/mean pools for (a) four fixed synthetic log-mel patches and (b) three
6.5-s real recordings (tests/encoders/data/musicnn_snippets/, two patches each), with the
float16 mel spectrogram the wheel's own preprocessing made of each recording.

Tolerance: 1e-4 absolute on the taggram and the penultimate layer (values below 20;
worst seen 2.6e-5). The pooled channels reach ~200 and TensorFlow's own float32 result is
up to 3.7e-4 from a float64 computation there (cancellation: the float32 error follows
the size of the terms summed, not of the result); they are held to 1e-4 of the patch's
largest pooled value, |ours - tf| <= 1e-4 * max(1, max over the patch of |tf|).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from apron_core.audio import load_audio, write_audio
from apron_core.embed_folder import embed_folder, load_embeddings, read_failures
from apron_core.encoders import available_encoders, get_encoder, load_encoder
from apron_core.encoders import musicnn as mn
from apron_core.encoders.musicnn import MusicnnEncoder, log_mel, pool_clip, split_patches
from apron_core.errors import AudioError, ConfigError
from tools.musicnn_tf import SNIPPETS, sha256, synthetic_patches
from training import embed_audio

DATA = Path(__file__).parent / "data"
REFERENCE = np.load(DATA / "musicnn_reference.npz")
SR = mn.MUSICNN_SR
LAYERS = ("taggram", "penultimate", "max_pool", "mean_pool")
ATOL = 1e-4


@pytest.fixture(scope="module", params=mn.WEIGHTS)
def encoder(request) -> MusicnnEncoder:
    return MusicnnEncoder(weights=request.param, device="cpu")


@pytest.fixture(scope="module")
def msd() -> MusicnnEncoder:
    return MusicnnEncoder(device="cpu")


def snippet(name: str) -> np.ndarray:
    return load_audio(DATA / "musicnn_snippets" / f"{name}.flac", sr=SR, mono=True)


def reference_log_mel(name: str) -> np.ndarray:
    mel16 = REFERENCE[f"clip_{name}_mel_f16"]
    return np.log10(np.float32(10000) * mel16.astype(np.float32) + np.float32(1))


def assert_matches_tf(ours: dict[str, np.ndarray], key: str) -> None:
    for layer in LAYERS:
        tf = REFERENCE[f"{key}_{layer}"]
        assert ours[layer].shape == tf.shape, layer
        diff = np.abs(ours[layer] - tf)
        if layer in ("taggram", "penultimate"):
            assert diff.max() <= ATOL, f"{key} {layer}: max |Δ| {diff.max():.2e}"
        else:  # float32 error scales with the patch's largest values, not each element's
            scale = np.maximum(1.0, np.abs(tf).max(axis=1, keepdims=True))
            rel = diff / scale
            assert rel.max() <= ATOL, f"{key} {layer}: max scaled |Δ| {rel.max():.2e}"


def loud_tone(seconds: float, freq: float = 220.0, amp: float = 0.9) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def music(rng, seconds: float) -> np.ndarray:
    """A few harmonics with a changing pitch and some noise: not silent, not constant."""
    t = np.arange(round(seconds * SR)) / SR
    f0 = 110.0 * 2 ** (np.floor(t) % 5 / 12)
    y = sum(0.3 / (h + 1) * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(4))
    return (y + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


# --------------------------------------------------------------------------- registry, weights


def test_registered_lazily_with_layer_dims():
    assert "musicnn" in available_encoders()
    for layer, dim in (("penultimate", 200), ("pool", 1506), ("taggram", 50)):
        enc = get_encoder("musicnn", weights="mtt", layer=layer)
        assert isinstance(enc, MusicnnEncoder) and enc.dim == dim and enc.sr == 16000


def test_importing_the_module_loads_neither_torch_nor_librosa():
    code = (
        "import sys; import apron_core.encoders.musicnn; "
        "print(sorted(m for m in ('torch', 'librosa', 'safetensors') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_shipped_weights_hold_the_checkpoint(encoder):
    params = encoder.load_weights()
    assert set(params) == set(mn.PARAM_SHAPES)
    n = sum(v.numel() for k, v in params.items() if not k.endswith(("_mean", "_var")))
    assert n == 787_159  # the checkpoint's trainable parameters
    first = {"msd": "rock", "mtt": "guitar"}[encoder.config.weights]
    assert encoder.tags[0] == first and len(set(encoder.tags)) == 50


def test_missing_or_corrupt_weights_say_how_to_rebuild(tmp_path):
    with pytest.raises(ConfigError, match=r"not found.*tools/musicnn_tf.py convert"):
        mn.read_weights(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match=r"cannot read musicnn weights.*convert"):
        mn.read_weights(bad)


def test_weights_with_a_wrong_shape_are_refused(tmp_path):
    from safetensors.torch import save_file

    params, tags = mn.read_weights(mn.weights_path("msd"))
    params["dense.weight"] = params["dense.weight"][:, :100].contiguous()
    path = tmp_path / "wrong.safetensors"
    save_file(params, str(path), metadata={"musicnn": json.dumps({"tags": tags})})
    with pytest.raises(ConfigError, match=r"dense.weight has shape \(200, 100\)"):
        mn.read_weights(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weights", "MSD_vgg", "weights='MSD_vgg' must be one of"),
        ("layer", "cnn3", "layer='cnn3' must be one of"),
        ("sr", 22050, "sr=22050: musicnn was trained at 16000 Hz"),
        ("batch_size", 0, "batch_size=0"),
        ("max_seconds", 2.0, "max_seconds=2.0 must be None or at least 2.976"),
        ("device", "gpu7", "device='gpu7' is not a torch device"),
    ],
)
def test_config_errors_name_the_value(field, value, message):
    with pytest.raises(ConfigError, match=message):
        get_encoder("musicnn", **{field: value})


# --------------------------------------------------------------------------- equivalence with TF


def test_synthetic_patches_are_the_ones_tensorflow_saw():
    assert sha256(synthetic_patches()) == str(REFERENCE["synthetic_sha256"])


def test_network_equals_tensorflow_on_fixed_patches(encoder):
    out = encoder.patch_outputs(synthetic_patches())
    assert_matches_tf(out, f"{encoder.config.weights}_synthetic")


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_network_equals_tensorflow_on_real_music(encoder, name):
    out = encoder.patch_outputs(split_patches(reference_log_mel(name)))
    assert_matches_tf(out, f"{encoder.config.weights}_clip_{name}")


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_log_mel_equals_the_wheels_preprocessing(name):
    """Our float16 mel power equals the wheel's on (nearly) every bin, and the bins that
    differ (another FFT library may round the last bit differently) by one float16 step."""
    ours = log_mel(snippet(name))
    ref = reference_log_mel(name)
    assert ours.shape == ref.shape == (407, 96)
    ours16 = ((10 ** ours.astype(np.float64) - 1) / 10000).astype(np.float16)
    ref16 = REFERENCE[f"clip_{name}_mel_f16"]
    assert np.mean(ours16 == ref16) >= 0.999
    steps = np.abs(ours16.view(np.int16).astype(int) - ref16.view(np.int16).astype(int))
    assert steps.max() <= 1


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_audio_to_features_equals_tensorflow(encoder, name):
    """From the FLAC file to every output layer, per patch and per clip."""
    y = snippet(name)
    key = f"{encoder.config.weights}_clip_{name}"
    assert_matches_tf(encoder.patch_outputs(split_patches(encoder.log_mel(y))), key)
    tf = {layer: REFERENCE[f"{key}_{layer}"] for layer in LAYERS}
    for layer in ("taggram", "penultimate", "pool"):
        clip_enc = MusicnnEncoder(weights=encoder.config.weights, layer=layer, device="cpu")
        ours, want = clip_enc.raw_features(y), pool_clip(tf, layer)
        assert np.abs(ours - want).max() <= ATOL * max(1.0, float(np.abs(want).max()))


def test_every_patch_has_its_own_penultimate(msd):
    """The wheel's extractor copies patch 0's penultimate into later patches; not here."""
    for name in SNIPPETS:
        ours = msd.patch_outputs(split_patches(msd.log_mel(snippet(name))))["penultimate"]
        tf = REFERENCE[f"msd_clip_{name}_penultimate"]
        assert np.abs(ours[1] - ours[0]).max() > 100 * ATOL
        assert np.abs(ours[1] - tf[1]).max() <= ATOL


def test_pool_layer_is_max_then_mean_over_the_clip(msd):
    out = {
        "max_pool": np.array([[1.0, 5.0], [3.0, 2.0]]),
        "mean_pool": np.array([[0, 2], [4, 4.0]]),
    }
    assert pool_clip(out, "pool").tolist() == [3.0, 5.0, 2.0, 3.0]


# --------------------------------------------------------------------------- the numpy-2 trap


def test_loud_input_stays_finite_where_float16_would_overflow():
    """On numpy 2, the wheel's 10000 * float16 mel stays float16 and overflows to inf for
    loud audio; our product is taken in float32 (numpy 1's result)."""
    import librosa

    y = loud_tone(4.0)
    mel16 = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96, pad_mode="constant"
    ).T.astype(np.float16)
    with np.errstate(over="ignore"):
        assert np.isinf(10000 * mel16).any()  # the trap is real for this input
    ours = log_mel(y)
    want = np.log10(10000 * mel16.astype(np.float64) + 1)
    assert np.all(np.isfinite(ours)) and np.abs(ours - want).max() < 1e-5
    assert np.all(np.isfinite(MusicnnEncoder(device="cpu").raw_features(y)))


# --------------------------------------------------------------------------- clip features


def test_batched_equals_one_by_one(rng, msd):
    clips = [music(rng, 7.0), snippet("asc_frontiers"), music(rng, 3.5)]
    together = msd.raw_features_batch(clips)
    alone = np.stack([msd.raw_features(y) for y in clips])
    assert together.shape == (3, 200)
    assert np.abs(together - alone).max() < 1e-5
    small = MusicnnEncoder(device="cpu", batch_size=1).raw_features_batch(clips)
    assert np.abs(small - together).max() < 1e-5


def test_threads_sharing_a_fresh_encoder_agree(rng):
    """The app encodes uploads from several threads; the weights load once, under a lock."""
    from concurrent.futures import ThreadPoolExecutor

    enc, y = MusicnnEncoder(device="cpu"), music(rng, 3.5)
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda _: enc.raw_features(y), range(4)))
    assert all(np.allclose(r, rows[0], atol=1e-6) for r in rows)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        MusicnnEncoder(device="cuda").raw_features(loud_tone(4.0))


def test_only_the_first_max_seconds_are_used(rng):
    y = music(rng, 12.0)
    enc = MusicnnEncoder(device="cpu", max_seconds=6.0)
    assert np.array_equal(enc.raw_features(y), enc.raw_features(y[: 6 * SR]))
    assert not np.allclose(enc.raw_features(y), MusicnnEncoder(device="cpu").raw_features(y))


def test_bad_signals_are_refused_clearly(msd):
    with pytest.raises(AudioError, match=r"2.50 s long; encoder 'musicnn' needs at least 3 s"):
        msd.raw_features(loud_tone(2.5))
    with pytest.raises(AudioError, match="silent"):
        msd.raw_features(np.zeros(4 * SR, np.float32))
    with pytest.raises(ConfigError, match=r"mono 1-D signal, got shape \(2, 64000\)"):
        msd.raw_features(np.stack([loud_tone(4.0)] * 2))
    y = loud_tone(4.0)
    y[10] = np.nan
    with pytest.raises(AudioError, match="non-finite"):
        msd.raw_features(y)
    with pytest.raises(AudioError, match=r"signal 1: signal is 2\.50 s long"):
        msd.raw_features_batch([loud_tone(4.0), loud_tone(2.5)])
    with pytest.raises(ConfigError, match=r"patches have shape \(187, 96\)"):
        msd.patch_outputs(np.zeros((187, 96), np.float32))


def test_fit_save_load_round_trip(tmp_path, rng):
    enc = MusicnnEncoder(weights="mtt", layer="taggram", device="cpu")
    clips = [music(rng, 4.0 + i) for i in range(4)]
    raw = enc.raw_features_batch(clips)
    enc.fit_normalization(raw).save(tmp_path)
    back = load_encoder(tmp_path)
    assert isinstance(back, MusicnnEncoder) and back.config == enc.config
    assert np.allclose(back.embed(clips[0]), enc.transform(raw[0]), atol=1e-5)
    path = tmp_path / "clip.flac"
    write_audio(path, clips[1], sr=SR)
    decoded = load_audio(path, sr=SR, mono=True)
    assert np.allclose(back.embed_file(path), back.embed(decoded), atol=1e-5)


# --------------------------------------------------------------------------- folders and CLIs


@pytest.fixture
def folder(tmp_path, rng) -> Path:
    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(3):
        write_audio(audio / f"song{i}.wav", music(rng, 4.0 + i), sr=SR)
    write_audio(audio / "short.wav", music(rng, 1.0), sr=SR)
    return audio


def test_embed_folder_is_resumable(folder, tmp_path, msd):
    out = tmp_path / "emb"
    report = embed_folder(msd, folder, out, batch_size=2, progress=False)
    assert (report.n_embedded, report.n_failed) == (3, 1)
    assert "needs at least 3 s" in read_failures(out)["short"]["error"]
    ids, raw = load_embeddings(out)
    assert ids == ["song0", "song1", "song2"] and raw.shape == (3, 200)
    assert np.allclose(raw[2], msd.raw_features_file(folder / "song2.wav"), atol=1e-5)
    again = embed_folder(msd, folder, out, batch_size=2, progress=False)
    assert (again.n_embedded, again.n_done_before, again.n_failed_before) == (0, 3, 1)


def test_embed_audio_cli_with_musicnn(folder, tmp_path, capsys):
    out = tmp_path / "emb"
    args = ["--encoder", "musicnn", "--weights", "mtt", "--layer", "taggram", "--device", "cpu"]
    args += ["--audio", str(folder), "--output", str(out), "--no-progress"]
    assert embed_audio.main(args) == 0
    assert "3 embedded now" in capsys.readouterr().out
    enc = load_encoder(out)
    assert (enc.name, enc.dim) == ("musicnn", 50)
    assert (enc.config.weights, enc.config.layer) == ("mtt", "taggram")
    assert embed_audio.main(args) == 0
    assert "0 embedded now, 3 already done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--encoder", "musicnn", "--weights", "vgg"], "weights='vgg' must be one of"),
        (["--encoder", "musicnn", "--layer", "7"], "layer='7' must be one of"),
        (["--encoder", "librosa", "--weights", "msd"], "--weights applies to --encoder musicnn"),
        (["--encoder", "musicnn", "--model", "x"], "--model applies to --encoder mert only"),
    ],
)
def test_embed_audio_cli_bad_musicnn_options(folder, tmp_path, capsys, extra, message):
    code = embed_audio.main(["--audio", str(folder), "--output", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_prepare_commands_accept_musicnn():
    from apron_core.sources.features import source_encoder
    from training import prepare, prepare_msd

    a = prepare_msd.parse_args(["--msd-dir", "x", "--encoder", "musicnn"])
    assert prepare.config_from_args(a).encoder == "musicnn"
    a = prepare.parse_args(["--source", "x", "--encoder", "musicnn"])
    enc = source_encoder(SimpleNamespace(embeddings=None), prepare.config_from_args(a).encoder)
    assert isinstance(enc, MusicnnEncoder)
