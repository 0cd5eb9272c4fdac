"""Build the demo world: catalog → listeners → audio features → a source → prepared → clips.

The world is one more source: it writes what only it knows (ground-truth attributes,
render specs, the features of every song and of its prototype excerpt) as a generic
source folder, then :func:`apron_core.sources.prepare.prepare` filters, splits, fits
the encoder normalization and chooses prototypes, exactly as for real data. The world
folder is that prepared folder, with the world's own files beside it::

    world/
      prepared.json, split/, catalog.parquet, ...   the prepared folder (sources.prepared)
      source/                the source the world wrote (sources.generic)
      world_config.json      the WorldConfig it was built with
      artists.parquet        artists and their styles
      users.parquet          simulated listeners; user_tastes.npy their taste vectors
      audio_stats.parquet    loudness, peak and longest silence of every rendered song
      build_report.json      timings per stage, utility variance split, filter and split

Audio is rendered in worker processes and only features (plus quality stats) are
kept, since any song can be re-rendered from its spec on demand; the clips of the
exported rule are rendered again at the end. The features go through a cache keyed by
song spec and encoder part (:mod:`apron_core.world.feature_cache`), so an interrupted
build resumes, and a world built with ``musicnn+librosa`` makes the ``musicnn`` and
``librosa`` worlds of the same seed cost no rendering at all.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from apron_core import prototypes
from apron_core.errors import ConfigError, DataError
from apron_core.sources.generic import ClipEmbeddings, Embeddings, SourcePaths, write_source
from apron_core.sources.prepare import PrepareConfig, prepare
from apron_core.sources.prepared import PreparedPaths
from apron_core.world.catalog import Catalog, CatalogConfig, make_catalog
from apron_core.world.feature_cache import FeatureCache, song_key
from apron_core.world.listeners import ListenerConfig, simulate_listeners
from apron_core.world.quality import audio_quality
from apron_core.world.spec import SongSpec

WORLD_VERSION = 2  # 2: the world folder is a prepared folder of the world's source


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
    # any of apron_core.encoders.available_encoders(); the shipped world's (docs/encoders.md)
    encoder: str = "musicnn+librosa"
    encoder_config: dict = field(default_factory=dict)  # its config fields ({}: defaults)
    soundfont: str | None = None  # None: pretty_midi's bundled TimGM6mb.sf2
    workers: int = 2

    def __post_init__(self) -> None:
        if self.prototype_rule not in prototypes.RULES:
            raise ConfigError(
                f"prototype_rule={self.prototype_rule!r}: use one of {prototypes.RULES}"
            )
        if self.workers < 1:
            raise ConfigError(f"workers={self.workers} must be ≥ 1")
        from apron_core.encoders import available_encoders

        if self.encoder not in available_encoders():
            raise ConfigError(
                f"encoder={self.encoder!r:.80} is not known: use one of {available_encoders()}"
            )
        if not 0 < self.clip_s <= self.catalog.song_duration_s:
            raise ConfigError(
                f"clip_s={self.clip_s} must be > 0 and no longer than the songs "
                f"({self.catalog.song_duration_s} s)"
            )

    @classmethod
    def from_dict(cls, d: dict) -> WorldConfig:
        d = dict(d)
        d["catalog"] = CatalogConfig(**d.get("catalog", {}))
        d["listeners"] = ListenerConfig(**d.get("listeners", {}))
        d.pop("version", None)
        return cls(**d)

    def excerpt(self) -> tuple[float, float]:
        """Start and length (s) of every song's prototype clip: the middle of the song,
        skipping the intro to keep the groove."""
        return round((self.catalog.song_duration_s - self.clip_s) / 2, 3), self.clip_s

    def prepare_config(self) -> PrepareConfig:
        """The world's thresholds, held-out count and split seed for the prepare step."""
        return PrepareConfig(
            min_song_listeners=self.min_song_listeners,
            min_user_songs=self.min_user_songs,
            iterate=True,  # repeat the filter until both thresholds hold
            n_heldout_users=self.n_heldout_users,
            split_seed=self.split_seed,
            encoder=self.encoder,
            prototype_rule=self.prototype_rule,
            clip_s=self.clip_s,
        )


def world_encoder(cfg: WorldConfig):
    """A fresh (unfitted) encoder of the world's kind and config."""
    from apron_core.encoders import get_encoder

    return get_encoder(cfg.encoder, **cfg.encoder_config)


class WorldPaths:
    """File names of the world's own files; ``prepared`` and ``source`` hold the rest."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.prepared = PreparedPaths(self.root)
        self.source = SourcePaths(self.root / "source")
        self.config = self.root / "world_config.json"
        self.artists = self.root / "artists.parquet"
        self.users = self.root / "users.parquet"
        self.tastes = self.root / "user_tastes.npy"
        self.audio_stats = self.root / "audio_stats.parquet"
        self.build_report = self.root / "build_report.json"

    def read_config(self) -> WorldConfig:
        """The config of a world built by this version (ConfigError naming the fix)."""
        built = self.build_report.is_file() and self.config.is_file()
        saved = json.loads(self.config.read_text()) if built else {}
        if saved.get("version") != WORLD_VERSION:
            why = f"world version {saved['version']!r}" if saved else "no build_report.json"
            raise ConfigError(
                f"{str(self.root)[:80]} is not a built world of this APRON Studio ({why}): run "
                f"`python -m training.build_world --output {str(self.root)[:80]}`"
            )
        return WorldConfig.from_dict(saved)

    def write_config(self, cfg: WorldConfig) -> None:
        self.config.write_text(json.dumps({"version": WORLD_VERSION, **asdict(cfg)}, indent=1))


# ---- worker side: render + features, one process holds the encoder's parts ----------
_WORKER: dict = {}


def _worker_init(
    parts: list[tuple[str, dict]],
    sr: int,
    soundfont: str | None,
    excerpt: tuple,
    cache_root: str | None,
) -> None:
    from apron_core.encoders import get_encoder

    encoders = [get_encoder(name, **config) for name, config in parts]
    _WORKER.update(
        parts={e.feature_key(): e for e in encoders},
        sr=sr,
        soundfont=soundfont,
        excerpt=excerpt,
        cache=FeatureCache(cache_root) if cache_root is not None else None,
    )


def _render(spec_dict: dict) -> tuple[np.ndarray, np.ndarray]:
    """The whole song and its excerpt (a view into it)."""
    from apron_core.world.render import render_song

    sr = _WORKER["sr"]
    y = render_song(SongSpec.from_dict(spec_dict), sr=sr, soundfont=_WORKER["soundfont"])
    start_s, clip_s = _WORKER["excerpt"]
    return y, y[int(start_s * sr) : int(start_s * sr) + int(clip_s * sr)]


def _render_features(job: tuple[str, dict, list[str], bool]) -> str:
    """Render one song and cache the features it misses (per encoder part, of the song
    and of its excerpt) and, if missing, its quality stats; returns its song key."""
    key, spec_dict, feature_keys, need_quality = job
    y, clip = _render(spec_dict)
    sr, cache = _WORKER["sr"], _WORKER["cache"]
    for fk in feature_keys:
        encoder = _WORKER["parts"][fk]
        cache.put(key, fk, encoder.raw_features_at(y, sr), encoder.raw_features_at(clip, sr))
    if need_quality:
        cache.put_quality(key, audio_quality(y, sr=sr))
    return key


def _render_clip(spec_dict: dict) -> np.ndarray:
    return _render(spec_dict)[1]


@contextmanager
def render_pool(
    cfg: WorldConfig, cache: FeatureCache | None = None
) -> Iterator[Callable[[Callable, list], Iterable]]:
    """``map(fn, jobs)`` over worker processes that render and embed; one pool serves every
    stage of a build (starting one costs seconds: imports, the encoder, numba kernels)."""
    parts = [(p.name, asdict(p.config)) for p in world_encoder(cfg).parts()]
    root = str(cache.root) if cache is not None else None
    init = (parts, cfg.sr, cfg.soundfont, cfg.excerpt(), root)
    if cfg.workers == 1:
        _worker_init(*init)
        yield map
        return
    from apron_core.encoders import warm_up

    for name in {name for name, _ in parts}:
        warm_up(name)  # compile + cache numba kernels once, before workers race on them
    # spawn, not fork: forking a process whose BLAS/OpenMP threads hold locks (torch,
    # numba were imported) deadlocks the children.
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # read by the children as they start: one thread
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            cfg.workers, mp_context=ctx, initializer=_worker_init, initargs=init
        ) as pool:
            yield lambda fn, jobs: pool.map(fn, jobs, chunksize=4)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def _run(pool_map, fn: Callable, jobs: list, desc: str, progress: bool) -> list:
    it = pool_map(fn, jobs)
    return list(tqdm(it, total=len(jobs), desc=desc, unit="song", disable=not progress))


# ---- the stages ----------------------------------------------------------------------
def build_world(
    cfg: WorldConfig,
    output: str | os.PathLike,
    *,
    prototypes_dir: Path | None = None,
    feature_cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Build everything into ``output``; export the chosen rule's clips to ``prototypes_dir``.

    ``feature_cache``: where rendered songs' features are kept (default
    ``output/feature_cache``); songs whose features it holds are not rendered again.
    """
    paths = WorldPaths(output)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.build_report.unlink(missing_ok=True)  # written last: a folder cut short is not a world
    cache = FeatureCache(
        feature_cache if feature_cache is not None else paths.root / "feature_cache"
    )
    world_encoder(cfg)  # a bad encoder config fails before anything is computed
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now
        if progress:
            print(f"  {stage}: {timings[stage]:.1f} s", flush=True)

    # BLAS threads of this process spin against the render workers and anyone else's
    # jobs: on a loaded 2-core machine two threads made prepare's ~240 small logistic
    # regressions 50-100x slower than one.
    with threadpool_limits(limits=1):
        paths.write_config(cfg)
        catalog = make_catalog(cfg.catalog)
        catalog.artists.to_parquet(paths.artists)
        lap("catalog")

        listeners = simulate_listeners(catalog, cfg.listeners, progress=progress)
        listeners.users.to_parquet(paths.users)
        np.save(paths.tastes, listeners.tastes)
        lap("listeners")

        with render_pool(cfg, cache) as pool_map:
            keys, rendered = render_features(catalog, cfg, cache, pool_map, progress=progress)
            song_raw, clip_raw, stats = read_features(keys, cfg, cache)  # (N, D), (N, D)
            stats.insert(0, "song_id", catalog.songs["song_id"])
            stats.to_parquet(paths.audio_stats)
            lap("render_embed")

            source = paths.source.root
            write_world_source(source, catalog, listeners.interactions, song_raw, clip_raw, cfg)
            del song_raw, clip_raw
            lap("source")

            meta = prepare(source, paths.root, cfg.prepare_config(), progress=progress)
            lap("prepare")

            if prototypes_dir is not None:
                export_clips(paths, cfg, prototypes_dir, pool_map, progress=progress)
            lap("export_clips")

    report = {
        "version": WORLD_VERSION,
        "timings_s": {**timings, "total": round(sum(timings.values()), 2)},
        "songs_rendered": rendered,
        "songs_from_cache": len(keys) - rendered,
        "prepare_s": meta["report"]["seconds"],
        "variance_split": listeners.variance_split,
        "filter": meta["filter"],
        "split": {
            "train_users": meta["split"]["n_train_users"],
            "validation_users": meta["split"]["n_val_users"],
            "test_users": meta["split"]["n_test_users"],
            "songs": meta["split"]["n_songs"],
        },
        "stats": meta["stats"],
    }
    paths.build_report.write_text(json.dumps(report, indent=1, default=float))
    return report


def render_features(
    catalog: Catalog, cfg: WorldConfig, cache: FeatureCache, pool_map, *, progress: bool = True
) -> tuple[list[str], int]:
    """Render every song that misses a feature part or its quality stats in ``cache``, and
    cache what it missed. Returns the songs' cache keys (catalog order) and how many were
    rendered."""
    from apron_core.world.render import RENDERER_VERSION, _resolve_soundfont

    soundfont = _resolve_soundfont(cfg.soundfont)
    feature_keys = [p.feature_key() for p in world_encoder(cfg).parts()]
    keys, jobs = [], []
    for spec in catalog.specs:
        d = spec.to_dict()
        key = song_key(
            d, sr=cfg.sr, soundfont=soundfont, excerpt=cfg.excerpt(), renderer=RENDERER_VERSION
        )
        keys.append(key)
        missing = [fk for fk in feature_keys if not cache.has(key, fk)]
        need_quality = not cache.has_quality(key)
        if missing or need_quality:
            jobs.append((key, d, missing, need_quality))
    if progress and len(jobs) < len(keys):
        print(f"  {len(keys) - len(jobs)} of {len(keys)} songs found in {cache.root}", flush=True)
    _run(pool_map, _render_features, jobs, "render+embed", progress)
    return keys, len(jobs)


def read_features(
    keys: list[str], cfg: WorldConfig, cache: FeatureCache
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The world encoder's raw features of every song and of its excerpt, (N, D) each, and
    the songs' quality stats, from the cache."""
    encoder = world_encoder(cfg)
    parts = encoder.parts()
    song = np.empty((len(keys), encoder.dim), dtype=np.float32)  # (N, D)
    clip = np.empty((len(keys), encoder.dim), dtype=np.float32)  # (N, D)
    for i, key in enumerate(keys):
        pairs = [cache.get(key, p.feature_key(), p.dim) for p in parts]
        song[i] = encoder.join_parts([s for s, _ in pairs])
        clip[i] = encoder.join_parts([c for _, c in pairs])
    stats = pd.DataFrame([cache.get_quality(k) for k in keys])
    return song, clip, stats


def write_world_source(
    folder: Path,
    catalog: Catalog,
    interactions: pd.DataFrame,
    song_raw: np.ndarray,
    clip_raw: np.ndarray,
    cfg: WorldConfig,
) -> Path:
    """The world as a generic source: all listening, observed tags (weight 1), ground
    truth, render specs, and the raw features of every song and of its excerpt."""
    songs = catalog.songs
    ids = songs["song_id"].astype(str).tolist()
    encoder = world_encoder(cfg)
    config = asdict(encoder.config)
    start_s, clip_s = cfg.excerpt()

    def pairs(column: str) -> pd.DataFrame:
        rows = songs[["song_id", column]].explode(column).dropna()
        return pd.DataFrame({"song_id": rows["song_id"], "tag": rows[column]})

    return write_source(
        folder,
        interactions=interactions,
        songs=songs[["song_id", "title", "artist", "year"]].assign(
            spec=[s.to_dict() for s in catalog.specs]
        ),
        song_tags=pairs("tags").assign(weight=1.0),
        song_truth=pairs("true_tags"),
        embeddings=Embeddings(ids, song_raw, encoder.name, config),
        clips=ClipEmbeddings(
            Embeddings(ids, clip_raw, encoder.name, config),
            np.full(len(ids), start_s),
            np.full(len(ids), clip_s),
        ),
        name="demo-world",
        meta={"adapter": "apron_core.world.build", "world_seed": cfg.catalog.seed},
    )


def export_clips(
    paths: WorldPaths, cfg: WorldConfig, out_dir: Path, pool_map, *, progress: bool = True
) -> list[prototypes.Prototype]:
    """Render the clips of the world's prototype rule again and write them to ``out_dir``."""
    choices = json.loads(paths.prepared.prototype_choices.read_text())
    table = [prototypes.Prototype(**p) for p in choices[cfg.prototype_rule]]
    excerpt = cfg.excerpt()
    off = [p.tag for p in table if (p.start_s, p.duration_s) != excerpt]
    if off:
        raise DataError(
            f"prototypes {off[:3]} of {paths.prepared.prototype_choices} are not the world's "
            f"excerpt {excerpt}: rebuild the world"
        )
    specs = pd.read_parquet(paths.source.songs).set_index("song_id")["spec"]
    song_ids = sorted({p.song_id for p in table})
    jobs = [json.loads(specs[s]) for s in song_ids]
    clips = _run(pool_map, _render_clip, jobs, "clips", progress)
    clip_of = dict(zip(song_ids, clips, strict=True))
    prototypes.export_prototypes(
        table,
        out_dir,
        lambda p: clip_of[p.song_id],
        sr=cfg.sr,
        extra={"world_seed": cfg.catalog.seed, "soundfont": cfg.soundfont or "TimGM6mb.sf2"},
    )
    return table


def rechoose_prototypes(
    world: str | os.PathLike, rule: str, out_dir: Path | None, *, progress: bool = True
) -> WorldConfig:
    """Prepare the world's source again with another exported rule; no song is rendered
    but the new rule's clips."""
    paths = WorldPaths(world)
    cfg = WorldConfig.from_dict({**asdict(paths.read_config()), "prototype_rule": rule})
    paths.write_config(cfg)
    with threadpool_limits(limits=1):  # see build_world
        prepare(paths.source.root, paths.root, cfg.prepare_config(), progress=progress)
    if out_dir is not None:
        with render_pool(cfg) as pool_map:
            export_clips(paths, cfg, out_dir, pool_map, progress=progress)
    return cfg
