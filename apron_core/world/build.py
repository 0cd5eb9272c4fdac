"""Build the demo world end to end: catalog → listeners → split → audio → embeddings → prototypes.

Every stage is timed; the folder it writes is what training and the report read.
Audio is rendered in worker processes and only features (plus quality stats) are
kept, since any song can be re-rendered from its spec on demand.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from apron_core import data, prototypes
from apron_core.errors import ConfigError
from apron_core.world.catalog import CatalogConfig, make_catalog
from apron_core.world.listeners import ListenerConfig, simulate_listeners
from apron_core.world.quality import audio_quality
from apron_core.world.spec import SongSpec

WORLD_VERSION = 1


@dataclass(frozen=True)
class WorldConfig:
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    listeners: ListenerConfig = field(default_factory=ListenerConfig)
    min_song_listeners: int = 20
    min_user_songs: int = 20
    n_heldout_users: int = 2500  # validation users; the same number again for test
    split_seed: int = 98765
    sr: int = 22050
    clip_s: float = 10.0
    prototype_rule: str = "purity_aware"  # exported; the paper rule measures far less faithful
    encoder: str = "librosa"
    soundfont: str | None = None  # None: pretty_midi's bundled TimGM6mb.sf2
    workers: int = 2

    def __post_init__(self) -> None:
        if self.prototype_rule not in prototypes.RULES:
            raise ConfigError(
                f"prototype_rule={self.prototype_rule!r}: use one of {prototypes.RULES}"
            )
        if self.workers < 1:
            raise ConfigError(f"workers={self.workers} must be ≥ 1")

    @classmethod
    def from_dict(cls, d: dict) -> WorldConfig:
        d = dict(d)
        d["catalog"] = CatalogConfig(**d.get("catalog", {}))
        d["listeners"] = ListenerConfig(**d.get("listeners", {}))
        d.pop("version", None)
        return cls(**d)


class WorldPaths:
    """File names inside a world folder, in one place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.config = self.root / "world_config.json"
        self.artists = self.root / "artists.parquet"
        self.songs = self.root / "songs.parquet"
        self.specs = self.root / "specs.jsonl"
        self.users = self.root / "users.parquet"
        self.tastes = self.root / "user_tastes.npy"
        self.interactions = self.root / "interactions.parquet"
        self.split = self.root / "split"
        self.raw_embeddings = self.root / "embeddings_raw.npy"
        self.encoder = self.root / "encoder"
        self.audio_stats = self.root / "audio_stats.parquet"
        self.prototype_choices = self.root / "prototype_choices.json"
        self.clip_embeddings = self.root / "prototype_clip_embeddings_raw.npz"
        self.build_report = self.root / "build_report.json"

    def read_songs(self) -> pd.DataFrame:
        return pd.read_parquet(self.songs)

    def read_specs(self) -> list[SongSpec]:
        with open(self.specs) as f:
            return [SongSpec.from_dict(json.loads(line)) for line in f]


# ---- worker side: render + features, one process holds one encoder ------------------
_WORKER: dict = {}


def _worker_init(encoder_name: str, sr: int, soundfont: str | None) -> None:
    from apron_core.encoders import get_encoder

    _WORKER["encoder"] = get_encoder(encoder_name)
    _WORKER["sr"] = sr
    _WORKER["soundfont"] = soundfont


def _render_features(spec_dict: dict) -> tuple[np.ndarray, dict]:
    from apron_core.world.render import render_song

    spec = SongSpec.from_dict(spec_dict)
    y = render_song(spec, sr=_WORKER["sr"], soundfont=_WORKER["soundfont"])
    return _WORKER["encoder"].raw_features(y), audio_quality(y, sr=_WORKER["sr"])


def _render_clip(job: tuple[dict, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A prototype excerpt and its raw features."""
    from apron_core.world.render import render_song

    spec_dict, start_s, clip_s = job
    sr = _WORKER["sr"]
    y = render_song(SongSpec.from_dict(spec_dict), sr=sr, soundfont=_WORKER["soundfont"])
    clip = y[int(start_s * sr) : int(start_s * sr) + int(clip_s * sr)]
    return clip, _WORKER["encoder"].raw_features(clip)


def _pool_map(fn, jobs: list, cfg: WorldConfig, desc: str, progress: bool) -> list:
    init = (cfg.encoder, cfg.sr, cfg.soundfont)
    if cfg.workers == 1:
        _worker_init(*init)
        return [fn(j) for j in tqdm(jobs, desc=desc, unit="song", disable=not progress)]
    # spawn, not fork: forking a process whose BLAS/OpenMP threads hold locks (torch,
    # numba were imported) deadlocks the children.
    from apron_core.encoders import warm_up

    warm_up(cfg.encoder)  # compile + cache numba kernels once, before workers race on them
    ctx = multiprocessing.get_context("spawn")
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the children: one thread per worker
    try:
        with ProcessPoolExecutor(
            cfg.workers, mp_context=ctx, initializer=_worker_init, initargs=init
        ) as pool:
            it = pool.map(fn, jobs, chunksize=16)
            return list(tqdm(it, total=len(jobs), desc=desc, unit="song", disable=not progress))
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


# ---- the stages ----------------------------------------------------------------------
def build_world(
    cfg: WorldConfig, output: Path, *, prototypes_dir: Path | None = None, progress: bool = True
) -> dict:
    """Build everything into ``output``; export the chosen rule's clips to ``prototypes_dir``."""
    paths = WorldPaths(output)
    paths.root.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now
        if progress:
            print(f"  {stage}: {timings[stage]:.1f} s", flush=True)

    paths.config.write_text(json.dumps({"version": WORLD_VERSION, **asdict(cfg)}, indent=1))

    catalog = make_catalog(cfg.catalog)
    catalog.artists.to_parquet(paths.artists)
    with open(paths.specs, "w") as f:
        for spec in catalog.specs:
            f.write(json.dumps(spec.to_dict()) + "\n")
    lap("catalog")

    listeners = simulate_listeners(catalog, cfg.listeners, progress=progress)
    listeners.users.to_parquet(paths.users)
    np.save(paths.tastes, listeners.tastes)
    lap("listeners")

    interactions, filter_report = data.filter_interactions(
        listeners.interactions,
        min_song_listeners=cfg.min_song_listeners,
        min_user_songs=cfg.min_user_songs,
    )
    interactions.to_parquet(paths.interactions)
    split = data.split_strong_generalization(
        interactions, n_heldout_users=cfg.n_heldout_users, seed=cfg.split_seed
    )
    data.write_vae_cf(split, paths.split)
    songs = catalog.songs
    songs["in_split"] = songs["song_id"].isin(set(split.unique_sid))
    songs.to_parquet(paths.songs)
    lap("filter_split")

    jobs = [s.to_dict() for s in catalog.specs]
    results = _pool_map(_render_features, jobs, cfg, "render+embed", progress)
    raw = np.stack([r[0] for r in results]).astype(np.float32)
    np.save(paths.raw_embeddings, raw)
    stats = pd.DataFrame([r[1] for r in results])
    stats.insert(0, "song_id", songs["song_id"])
    stats.to_parquet(paths.audio_stats)
    from apron_core.encoders import get_encoder

    encoder = get_encoder(cfg.encoder)
    encoder.fit_normalization(raw[songs["in_split"].to_numpy()])
    encoder.save(paths.encoder)
    lap("render_embed")

    build_prototypes(paths, cfg, prototypes_dir=prototypes_dir, progress=progress)
    lap("prototypes")

    report = {
        "version": WORLD_VERSION,
        "timings_s": {**timings, "total": round(sum(timings.values()), 2)},
        "variance_split": listeners.variance_split,
        "filter": asdict(filter_report),
        "split": {
            "train_users": len(split.train_users),
            "validation_users": len(split.val_users),
            "test_users": len(split.test_users),
            "songs": len(split.unique_sid),
        },
        "stats": data.dataset_stats(interactions),
    }
    paths.build_report.write_text(json.dumps(report, indent=1, default=float))
    return report


def build_prototypes(
    paths: WorldPaths, cfg: WorldConfig, *, prototypes_dir: Path | None, progress: bool = True
) -> dict[str, list[prototypes.Prototype]]:
    """Choose prototypes by every rule, embed their clips, export the configured rule's clips.

    Reads only the world folder, so prototypes can be re-chosen without re-rendering.
    """
    from apron_core.encoders import load_encoder

    songs = paths.read_songs()
    in_split = songs["in_split"].to_numpy()
    split = data.read_vae_cf(paths.split)
    interactions = pd.read_parquet(paths.interactions)
    plays = split.train.merge(interactions, on=["user_id", "song_id"]).groupby("song_id")["count"]
    emb = load_encoder(paths.encoder).transform(np.load(paths.raw_embeddings)[in_split])
    catalog_songs = songs[in_split].reset_index(drop=True)
    chosen = {
        rule: prototypes.select(
            rule,
            catalog_songs,
            plays.sum(),
            emb,
            song_duration_s=cfg.catalog.song_duration_s,
            clip_s=cfg.clip_s,
        )
        for rule in prototypes.RULES
    }
    paths.prototype_choices.write_text(
        json.dumps({r: [asdict(p) for p in ps] for r, ps in chosen.items()}, indent=1)
    )
    spec_by_id = {s.song_id: s for s in paths.read_specs()}
    keys = sorted({(p.song_id, p.start_s, p.duration_s) for ps in chosen.values() for p in ps})
    clip_jobs = [(spec_by_id[song].to_dict(), start, dur) for song, start, dur in keys]
    rendered = _pool_map(_render_clip, clip_jobs, cfg, "prototype clips", progress)
    clips = dict(zip(keys, rendered, strict=True))
    np.savez(
        paths.clip_embeddings,
        **{
            rule: np.stack([clips[(p.song_id, p.start_s, p.duration_s)][1] for p in ps])
            for rule, ps in chosen.items()
        },
    )
    if prototypes_dir is not None:
        prototypes.export_prototypes(
            chosen[cfg.prototype_rule],
            prototypes_dir,
            lambda p: clips[(p.song_id, p.start_s, p.duration_s)][0],
            sr=cfg.sr,
            extra={"world_seed": cfg.catalog.seed, "soundfont": cfg.soundfont or "TimGM6mb.sf2"},
        )
    return chosen
