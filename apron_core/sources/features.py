"""Raw encoder features for a source's songs: precomputed rows, or audio embedded once.

Audio goes through :func:`apron_core.embed_folder.embed_folder` into the prepared folder's
``features/<encoder>-<config hash>/``: resumable (an interrupted prepare picks up where
it stopped), and preparing again with other thresholds embeds only songs not done yet.
Files that cannot be decoded or embedded are listed in its ``manifest.jsonl`` and dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from apron_core.embed_folder import embed_folder, load_embeddings, read_failures
from apron_core.encoders import Encoder, get_encoder
from apron_core.errors import ConfigError
from apron_core.sources.generic import Source
from apron_core.sources.report import PrepLog


def source_encoder(src: Source, name: str | None, config: dict | None = None) -> Encoder:
    """The encoder of the source's embeddings, or ``name`` (default librosa) for audio."""
    if src.embeddings is not None:
        if name is not None and name != src.embeddings.encoder:
            raise ConfigError(
                f"encoder={name!r} but the source's embeddings come from "
                f"{src.embeddings.encoder!r}; leave the encoder unset or re-embed the source"
            )
        return get_encoder(src.embeddings.encoder, **src.embeddings.encoder_config)
    return get_encoder(name or "librosa", **(config or {}))


def features_dir(cache: Path, encoder: Encoder) -> Path:
    """One embedding folder per encoder and configuration."""
    config = json.dumps(asdict(encoder.config), sort_keys=True, default=str)
    return cache / f"{encoder.name}-{hashlib.sha1(config.encode()).hexdigest()[:8]}"


def song_features(
    src: Source,
    song_ids: list[str],
    encoder: Encoder,
    cache: Path,
    log: PrepLog,
    *,
    progress: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Raw features of ``song_ids`` that have them; failures are logged and left out.

    Precomputed rows come first; songs without one are embedded from the source's audio.
    Returns ids (sorted) and the (N, D) float32 matrix aligned to them.
    """
    wanted = sorted(set(song_ids))
    rows: dict[str, np.ndarray] = {}
    if src.embeddings is not None:
        index = {s: i for i, s in enumerate(src.embeddings.ids)}
        take = [s for s in wanted if s in index]
        rows.update(zip(take, src.embeddings.raw[[index[s] for s in take]], strict=True))
    todo = [s for s in wanted if s not in rows and s in src.audio]
    failed: dict[str, str] = {}
    n_new = 0
    if todo:
        work = features_dir(cache, encoder)
        report = embed_folder(encoder, src.root / "audio", work, ids=todo, progress=progress)
        n_new = report.n_embedded
        got_ids, matrix = load_embeddings(work)
        index = {s: k for k, s in enumerate(got_ids)}
        rows.update({s: matrix[index[s]] for s in todo if s in index})
        failures = read_failures(work)
        failed = {
            s: failures.get(s, {}).get("error", "not embedded") for s in todo if s not in rows
        }
    no_features = [s for s in wanted if s not in rows and s not in failed]
    log.drop("features", "no audio file and no precomputed embedding", len(no_features), "songs",
             no_features)  # fmt: skip
    examples = [f"{s}: {failed[s]}" for s in sorted(failed)[:3]]
    log.drop("features", "audio could not be decoded or embedded", len(failed), "songs", examples)
    ids = sorted(rows)
    raw = np.stack([rows[i] for i in ids]).astype(np.float32) if ids else np.zeros((0, encoder.dim))
    log.keep("features", songs=len(ids), embedded_now=n_new)
    return ids, raw
