"""Embed a folder of audio files (ids = file stems) with an encoder, resumably.

python -m training.embed_audio --encoder librosa --audio clips/ --output data/emb_librosa
python -m training.embed_audio --encoder mert --model /models/MERT-v1-95M --layer mean \\
    --audio clips/ --output data/emb_mert
python -m training.embed_audio --encoder musicnn --weights msd --layer penultimate \\
    --audio clips/ --output data/emb_musicnn
python -m training.embed_audio --encoder musicnn+librosa --audio clips/ --output data/emb_both

Rerun the same command after an interruption: finished batches are kept and skipped.
Failed files are listed in OUTPUT/manifest.jsonl. When done, the encoder's normalization
is fitted on every embedded clip and saved as OUTPUT/encoder.json (load_encoder reads it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apron_core.embed_folder import MANIFEST_FILE, embed_folder, load_embeddings
from apron_core.encoders import get_encoder
from apron_core.errors import ApronError, ConfigError

# Encoder-specific options → the encoders they apply to.
_ENCODER_OPTIONS = {
    "model": ("mert",),
    "revision": ("mert",),
    "weights": ("musicnn", "musicnn+librosa"),
    "layer": ("mert", "musicnn", "musicnn+librosa"),
    "device": ("mert", "musicnn"),
}
ENCODERS = ["librosa", "mert", "musicnn", "musicnn+librosa"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.embed_audio",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--encoder",
        choices=ENCODERS,
        default="librosa",
        help="default: librosa (docs/encoders.md compares them)",
    )
    p.add_argument("--audio", type=Path, required=True, help="folder of wav/flac/ogg/mp3 files")
    p.add_argument("--output", type=Path, required=True, help="embedding folder (resumable)")
    p.add_argument(
        "--model", help="mert: local checkpoint folder or Hub id (default: m-a-p/MERT-v1-95M)"
    )
    p.add_argument("--revision", help="mert: Hub branch, tag or commit hash (default: main)")
    p.add_argument(
        "--weights",
        help="musicnn (and musicnn+librosa): msd (Million Song Dataset, default) or mtt "
        "(MagnaTagATune)",
    )
    p.add_argument(
        "--layer",
        help="mert: hidden state index 0..L (negative from the end) or 'mean' (default); "
        "musicnn (and musicnn+librosa): penultimate (default), pool or taggram",
    )
    p.add_argument(
        "--device", help="mert, musicnn: cpu, cuda, cuda:1 ... (default: cuda when available)"
    )
    p.add_argument("--max-seconds", type=float, help="seconds used per file (default: 30)")
    p.add_argument(
        "--batch-size", type=int, default=8, help="files per batch and shard (default: 8)"
    )
    p.add_argument("--ids", type=Path, help="text file of ids (one a line): embed only these")
    p.add_argument("--retry-failed", action="store_true", help="retry the files in the manifest")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def encoder_from_args(a: argparse.Namespace):
    """The encoder the arguments describe (ConfigError on a bad combination)."""
    for name, encoders in _ENCODER_OPTIONS.items():
        if getattr(a, name) is not None and a.encoder not in encoders:
            raise ConfigError(f"--{name} applies to --encoder {' or '.join(encoders)} only")
    overrides: dict = {}
    for name in ("model", "revision", "weights", "device"):
        if getattr(a, name) is not None:
            overrides[name] = getattr(a, name)
    if a.encoder == "musicnn+librosa":  # its musicnn part's fields are prefixed
        overrides = {f"musicnn_{k}": v for k, v in overrides.items()}
        if a.layer is not None:
            overrides["musicnn_layer"] = a.layer
    elif a.encoder == "mert":
        if a.layer is not None:
            overrides["layer"] = a.layer if a.layer == "mean" else _layer_index(a.layer)
        overrides["batch_size"] = a.batch_size
    elif a.encoder == "musicnn" and a.layer is not None:
        overrides["layer"] = a.layer
    if a.max_seconds is not None:
        overrides["max_duration_s" if a.encoder == "librosa" else "max_seconds"] = a.max_seconds
    return get_encoder(a.encoder, **overrides)


def _layer_index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--layer {text!r} must be an integer or 'mean'") from None


def _read_ids(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read --ids file '{path}': {e}") from None
    return [s.strip() for s in lines if s.strip()]


def run(a: argparse.Namespace) -> int:
    encoder = encoder_from_args(a)
    ids = _read_ids(a.ids) if a.ids is not None else None
    report = embed_folder(
        encoder,
        a.audio,
        a.output,
        ids=ids,
        batch_size=a.batch_size,
        retry_failed=a.retry_failed,
        progress=not a.no_progress,
    )
    print(
        f"{report.n_files} files: {report.n_embedded} embedded now, {report.n_done_before} "
        f"already done, {report.n_failed} failed now, {report.n_failed_before} failed before "
        f"({report.seconds:.1f} s)"
    )
    if report.n_failed or report.n_failed_before:
        print(f"failures are listed in {a.output / MANIFEST_FILE}")
    ids_done, raw = load_embeddings(a.output)
    if len(ids_done) >= 2:
        path = encoder.fit_normalization(raw).save(a.output)
        print(f"{len(ids_done)} embeddings (dim {raw.shape[1]}); normalization saved to {path}")
    else:
        print(f"{len(ids_done)} embedding(s): too few to fit a normalization")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
