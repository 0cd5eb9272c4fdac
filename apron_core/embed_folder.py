"""Embed a whole audio folder, resumably: raw encoder features per file id (its stem).

Layout of `out_dir` (nothing is ever rewritten in place, so an interruption at any
moment leaves every finished batch usable):

    embed.json         encoder name + config + dim; a resumed run must use the same encoder
    shards/00000.npz   one per finished batch: `ids` (N,) str, `raw` (N, D) float32;
                       written to a temporary name, then renamed
    manifest.jsonl     one line per failed file: {"id", "file", "error"}, appended at once

A rerun skips ids already in a shard (and those in the manifest unless `retry_failed`).
A bad file (missing, corrupt, empty, silent, too short) is logged and the run goes on.
On an interruption (Ctrl-C, an exception) the rows of the batch in progress that were
already computed are saved before it propagates.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apron_core.audio import load_audio
from apron_core.encoders import Encoder
from apron_core.errors import ApronError, ConfigError, DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
META_FILE = "embed.json"
MANIFEST_FILE = "manifest.jsonl"
SHARD_DIR = "shards"
FORMAT_VERSION = 1
# Config fields that change speed, not values: a resumed run may change them.
_RUNTIME_FIELDS = frozenset({"batch_size", "device"})

PathLike = str | os.PathLike


@dataclass
class EmbedReport:
    """What one `embed_folder` call did."""

    out_dir: Path
    n_files: int  # ids asked for (all audio files by default)
    n_done_before: int  # already embedded by an earlier run, skipped
    n_failed_before: int  # in the manifest from an earlier run, skipped
    n_embedded: int  # embedded by this run
    n_failed: int  # failed in this run (now in the manifest)
    seconds: float
    failures: list[dict] = field(default_factory=list)  # this run's manifest lines


# --------------------------------------------------------------------------- listing


def list_audio(audio_dir: PathLike) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Audio files under `audio_dir` (recursive, hidden names skipped) by id (file stem).

    Returns (files, clashes): ids held by one file, and ids that several files share
    (e.g. a.wav and a.mp3), which are not embedded."""
    root = Path(audio_dir)
    if not root.is_dir():
        raise ConfigError(f"audio folder '{root}' does not exist or is not a folder")
    by_id: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(p.startswith(".") for p in rel) or path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        if path.is_file():
            by_id.setdefault(path.stem, []).append(path)
    files = {k: v[0] for k, v in by_id.items() if len(v) == 1}
    clashes = {k: v for k, v in by_id.items() if len(v) > 1}
    return files, clashes


# --------------------------------------------------------------------------- output folder


def _meta(encoder: Encoder) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "encoder": encoder.name,
        "dim": encoder.dim,
        "config": dataclasses.asdict(encoder.config),
    }


def _same_encoder(a: dict, b: dict) -> bool:
    """Same encoder, dim and config, ignoring fields that only change speed."""

    def key(meta: dict) -> dict:
        config = {k: v for k, v in meta.get("config", {}).items() if k not in _RUNTIME_FIELDS}
        return {**meta, "config": config}

    return key(a) == key(b)


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prepare_out_dir(out_dir: Path, meta: dict) -> None:
    """Create `out_dir`, or check that it holds embeddings of the same encoder."""
    (out_dir / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / SHARD_DIR).glob(".*.tmp"):  # a write cut short by a crash
        stale.unlink()
    path = out_dir / META_FILE
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read '{path}': {e}; use a new output folder") from None
        if not _same_encoder(saved, meta):
            raise ConfigError(
                f"'{out_dir}' holds embeddings from encoder {saved.get('encoder')!r} with config "
                f"{saved.get('config')}, not {meta['encoder']!r} with {meta['config']}; use a "
                "new output folder or the same encoder settings"
            )
    else:
        _write_atomic(path, lambda p: p.write_text(json.dumps(meta, indent=1) + "\n"))


def _shard_paths(out_dir: Path) -> list[Path]:
    return sorted((out_dir / SHARD_DIR).glob("[0-9]*.npz"), key=lambda p: int(p.stem))


def _read_shard(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            ids, raw = [str(i) for i in z["ids"]], np.asarray(z["raw"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(
            f"cannot read shard '{path}': {e}; delete it and rerun to redo it"
        ) from None
    if raw.ndim != 2 or raw.shape[0] != len(ids):
        raise DataError(f"shard '{path}' has {len(ids)} ids but raw of shape {raw.shape}")
    return ids, raw


def _write_shard(out_dir: Path, index: int, ids: list[str], raw: list[np.ndarray]) -> None:
    path = out_dir / SHARD_DIR / f"{index:05d}.npz"
    matrix = np.stack(raw).astype(np.float32)  # (N, D)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, ids=np.array(ids, dtype=str), raw=matrix)
            f.flush()
            os.fsync(f.fileno())

    _write_atomic(path, write)


def _read_manifest(out_dir: Path) -> dict[str, dict]:
    """Manifest lines by id (the latest line per id); a line cut short by a crash is skipped."""
    path = out_dir / MANIFEST_FILE
    failures: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "id" in entry:
                failures[str(entry["id"])] = entry
    return failures


def read_failures(out_dir: PathLike) -> dict[str, dict]:
    """Failed files by id ({"id", "file", "error"}), leaving out ids a later run embedded."""
    out_dir = Path(out_dir)
    done = {i for p in _shard_paths(out_dir) for i in _read_shard(p)[0]}
    return {k: v for k, v in _read_manifest(out_dir).items() if k not in done}


def _append_failure(out_dir: Path, entry: dict) -> None:
    with open(out_dir / MANIFEST_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_embeddings(out_dir: PathLike) -> tuple[list[str], np.ndarray]:
    """All embedded ids (sorted) and their raw features (N, D) float32.

    Raises DataError when an id is in two shards or shards disagree on D."""
    out_dir = Path(out_dir)
    if not (out_dir / SHARD_DIR).is_dir():
        raise DataError(f"'{out_dir}' holds no embeddings; run embed_folder into it first")
    seen: dict[str, Path] = {}
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for path in _shard_paths(out_dir):
        shard_ids, raw = _read_shard(path)
        for i in shard_ids:
            if i in seen:
                raise DataError(
                    f"id {i!r} is in both '{seen[i]}' and '{path}'; delete one shard and rerun"
                )
            seen[i] = path
        ids.extend(shard_ids)
        rows.append(raw)
    if rows and len({r.shape[1] for r in rows}) > 1:
        raise DataError(
            f"shards in '{out_dir}' have different dims {sorted({r.shape[1] for r in rows})}"
        )
    if not rows:
        meta = out_dir / META_FILE
        dim = json.loads(meta.read_text())["dim"] if meta.is_file() else 0
        return [], np.zeros((0, int(dim)), dtype=np.float32)
    raw_all = np.concatenate(rows)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return [ids[k] for k in order], raw_all[order]


# --------------------------------------------------------------------------- embedding


def _decode(encoder: Encoder, path: Path) -> np.ndarray:
    """The file as the encoder wants it (mono at encoder.sr, first max_input_s seconds)."""
    kwargs = {} if encoder.max_input_s is None else {"duration_s": encoder.max_input_s}
    return load_audio(path, sr=encoder.sr, mono=True, **kwargs)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def embed_folder(
    encoder: Encoder,
    audio_dir: PathLike,
    out_dir: PathLike,
    *,
    ids: Iterable[str] | None = None,
    batch_size: int = 8,
    retry_failed: bool = False,
    progress: bool = True,
) -> EmbedReport:
    """Embed every audio file of `audio_dir` (or only `ids`) into `out_dir`, resumably.

    Files are processed in sorted id order, `batch_size` at a time; each finished batch
    becomes one shard. Encoders with a `raw_features_batch` method (MERT, musicnn) get the batch
    in one call; if it fails on one signal, the batch is redone file by file.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"batch_size={batch_size!r} must be a positive integer")
    start_time = time.perf_counter()
    out_dir = Path(out_dir)
    files, clashes = list_audio(audio_dir)
    wanted = sorted(set(files) | set(clashes)) if ids is None else sorted(set(map(str, ids)))
    _prepare_out_dir(out_dir, _meta(encoder))

    shards = _shard_paths(out_dir)
    done = {i for p in shards for i in _read_shard(p)[0]}
    failed_before = set(_read_manifest(out_dir)) - done
    skip = done | (set() if retry_failed else failed_before)
    todo = [i for i in wanted if i not in skip]
    next_shard = int(shards[-1].stem) + 1 if shards else 0
    report = EmbedReport(
        out_dir=out_dir,
        n_files=len(wanted),
        n_done_before=len(done & set(wanted)),
        n_failed_before=len(failed_before & set(wanted)) if not retry_failed else 0,
        n_embedded=0,
        n_failed=0,
        seconds=0.0,
    )

    def fail(item: str, path: Path | None, error: Exception | str) -> None:
        message = error if isinstance(error, str) else str(error) or type(error).__name__
        entry = {"id": item, "file": None if path is None else str(path), "error": message}
        _append_failure(out_dir, entry)
        report.failures.append(entry)
        report.n_failed += 1

    bar = _progress(len(todo), f"embedding ({encoder.name})", progress)
    batch_fn = getattr(encoder, "raw_features_batch", None)
    try:
        for batch in _batches(todo, batch_size):
            signals: dict[str, np.ndarray] = {}
            for item in batch:
                if item in clashes:
                    names = ", ".join(str(p) for p in clashes[item])
                    fail(item, None, f"several files share the id {item!r} ({names}); rename one")
                elif item not in files:
                    fail(item, None, f"no audio file named {item}{{{','.join(AUDIO_SUFFIXES)}}}")
                else:
                    try:
                        signals[item] = _decode(encoder, files[item])
                    except Exception as e:  # any decoding problem is this file's problem
                        fail(item, files[item], e)
            rows: dict[str, np.ndarray] = {}
            try:
                _encode_into(rows, encoder, batch_fn, signals, files, fail)
            finally:  # also on an interruption: keep the rows already computed
                if rows:
                    _write_shard(out_dir, next_shard, list(rows), list(rows.values()))
                    next_shard += 1
                    report.n_embedded += len(rows)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
        report.seconds = time.perf_counter() - start_time
    return report


def _encode_into(
    rows: dict[str, np.ndarray],
    encoder: Encoder,
    batch_fn: Callable | None,
    signals: dict[str, np.ndarray],
    files: dict[str, Path],
    fail: Callable[[str, Path | None, Exception | str], None],
) -> None:
    """Fill `rows` (id → raw features) from the decoded signals, in place, so that the
    caller keeps what was computed if an interruption stops the loop; failures go to
    `fail`. Errors other than ApronError (a bug, out of memory) propagate."""
    if batch_fn is not None and len(signals) > 1:
        try:
            raw = np.asarray(batch_fn(list(signals.values())), dtype=np.float32)  # (N, D)
        except ApronError:
            pass  # one bad signal: redo file by file below to find it
        else:
            rows.update(zip(signals, raw, strict=True))
            return
    for item, y in signals.items():
        try:
            rows[item] = np.asarray(encoder.raw_features(y), dtype=np.float32)
        except ApronError as e:
            fail(item, files[item], e)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr)
