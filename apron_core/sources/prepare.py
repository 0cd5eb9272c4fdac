"""Source folder → prepared folder: features, filter, split, catalog, encoder, prototypes.

Stages, each timed and logged with what it dropped and why:

1. ``read_source``  validate the source (:mod:`apron_core.sources.generic`).
2. ``features``     raw encoder features of every song that could pass the song filter
                    (listeners counted on all interactions are an upper bound, so songs
                    below it are never embedded); failures are dropped.
3. ``restrict``     interactions of songs without features are removed.
4. ``filter``       Liang et al.: songs with >= ``min_song_listeners`` listeners, then
                    users with >= ``min_user_songs`` songs (one pass unless ``iterate``).
5. ``split``        strong generalization: ``n_heldout_users`` validation and as many
                    test users (``apron_core.data``, run on compact stand-in ids: see
                    :mod:`apron_core.sources.split`), written in vae_cf's layout.
6. ``catalog``      songs of the split with their tags (and ground truth and render
                    specs when the source has them), encoder fitted on their features.
7. ``prototypes``   both rules (:mod:`apron_core.sources.clips`); each prototype's clip is
                    cut from the song's audio (and exported), else taken from the source's
                    clip embeddings, else the whole song's features stand in.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core import data, prototypes
from apron_core.errors import ApronError, ConfigError, DataError
from apron_core.sources.clips import DEFAULT_FALLBACKS, choose_prototypes, cut_clips
from apron_core.sources.features import song_features, source_encoder
from apron_core.sources.generic import ClipEmbeddings, Source, read_source
from apron_core.sources.prepared import PREPARED_VERSION, PreparedPaths
from apron_core.sources.report import PrepLog
from apron_core.sources.split import split_and_write
from apron_core.tags import TAG_NAMES


@dataclass(frozen=True)
class PrepareConfig:
    """Defaults are Liang et al.'s MSD settings (vae_cf): 200 / 20, 50,000 held-out users."""

    min_song_listeners: int = 200
    min_user_songs: int = 20
    iterate: bool = False  # vae_cf filters once; True repeats until both thresholds hold
    n_heldout_users: int = 50_000  # validation users, and as many test users
    split_seed: int = 98765  # vae_cf's seed
    heldout_prop: float = 0.2
    min_tag_weight: float = 0.0  # on the source's (0, 1] scale; 0 keeps every source tag
    encoder: str | None = None  # None: the source embeddings' encoder, else librosa
    prototype_rule: str = "purity_aware"  # the rule training uses; both are prepared
    clip_s: float = 10.0
    fallbacks: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FALLBACKS))
    prototype_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("min_song_listeners", "min_user_songs", "n_heldout_users", "split_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name}={v!r} must be an integer >= 0")
        if self.n_heldout_users < 1:
            raise ConfigError(f"n_heldout_users={self.n_heldout_users} must be >= 1")
        if not 0 <= self.min_tag_weight <= 1:
            raise ConfigError(f"min_tag_weight={self.min_tag_weight} must be within [0, 1]")
        if self.prototype_rule not in prototypes.RULES:
            raise ConfigError(
                f"prototype_rule={self.prototype_rule!r}: use one of {prototypes.RULES}"
            )
        if not self.clip_s > 0:
            raise ConfigError(f"clip_s={self.clip_s} must be > 0 seconds")


def _song_codes(src: Source) -> tuple[np.ndarray, pd.Index]:
    col = src.interactions["song_id"]
    return col.cat.codes.to_numpy(), col.cat.categories


def _log_filter(log: PrepLog, rep: data.FilterReport) -> None:
    for st in rep.steps:
        if st.step == "songs":
            what = f"round {st.round}: song with < {rep.min_song_listeners} listeners"
            n, unit = st.songs_before - st.songs_after, "songs"
        else:
            what = f"round {st.round}: user with < {rep.min_user_songs} songs"
            n, unit = st.users_before - st.users_after, "users"
        lost = st.interactions_before - st.interactions_after
        log.drop("filter", f"{what} ({lost:,} interactions)", n, unit)
    if not rep.converged:
        log.note(
            "single-pass filter (as vae_cf): some songs fell below the listener threshold when "
            "light users were removed; pass iterate=True to repeat until both thresholds hold"
        )


def _tag_lists(tags: pd.DataFrame, song_ids: list[str]) -> list[list[str]]:
    """Each song's tags (song_id, tag rows) in the fixed tag order; [] for untagged songs."""
    tags = tags[tags["song_id"].isin(set(song_ids))]
    order = {t: i for i, t in enumerate(TAG_NAMES)}
    by_song = tags.groupby("song_id")["tag"].agg(lambda ts: sorted(ts, key=order.__getitem__))
    return [list(by_song.get(s, [])) for s in song_ids]


def _observed_tags(src: Source, song_ids: list[str], min_weight: float, log: PrepLog) -> list:
    tags = src.song_tags
    weak = tags["weight"] < min_weight
    log.drop("catalog", f"song tag weight below min_tag_weight={min_weight:g}", int(weak.sum()),
             "song-tags")  # fmt: skip
    return _tag_lists(tags[~weak], song_ids)


def prepare(
    source: str | os.PathLike,
    output: str | os.PathLike,
    cfg: PrepareConfig | None = None,
    *,
    progress: bool = True,
    log: PrepLog | None = None,
) -> dict:
    """Prepare ``source`` into ``output``; returns what ``prepared.json`` stores.

    ``log``: record into this one (e.g. a benchmark's) instead of a new log.
    """
    cfg = cfg or PrepareConfig()
    paths = PreparedPaths(output)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.meta.unlink(missing_ok=True)  # written last: a folder cut short never loads
    log = log if log is not None else PrepLog()

    with log.stage("read_source", progress=progress):
        src = read_source(source)
        codes, song_index = _song_codes(src)
        listeners = np.bincount(codes, minlength=len(song_index))
        log.keep(
            "source",
            interactions=len(src.interactions),
            users=len(src.interactions["user_id"].cat.categories),
            songs=len(song_index),
        )

    with log.stage("features", progress=progress):
        encoder = source_encoder(src, cfg.encoder)
        candidates = song_index[listeners >= cfg.min_song_listeners].tolist()
        log.note(
            f"{len(song_index) - len(candidates):,} songs have fewer than "
            f"{cfg.min_song_listeners} listeners in all interactions: not embedded, the filter "
            "drops them"
        )
        feat_ids, feat_raw = song_features(
            src, candidates, encoder, paths.features, log, progress=progress
        )

    with log.stage("restrict", progress=progress):
        has = np.asarray(song_index.isin(feat_ids)) | (listeners < cfg.min_song_listeners)
        keep = has[codes]
        log.drop(
            "restrict",
            f"interaction with a song that has no features ({int((~has).sum()):,} songs)",
            int((~keep).sum()),
            "interactions",
        )
        inter = (
            src.interactions[keep].reset_index(drop=True) if not keep.all() else src.interactions
        )
        src.interactions = None  # type: ignore[assignment]  # free memory early
        del keep, codes

    with log.stage("filter", progress=progress):
        inter, frep = data.filter_interactions(
            inter,
            min_song_listeners=cfg.min_song_listeners,
            min_user_songs=cfg.min_user_songs,
            iterate=cfg.iterate,
        )
        _log_filter(log, frep)
        log.keep(
            "filter",
            interactions=frep.interactions_after,
            users=frep.users_after,
            songs=frep.songs_after,
        )

    with log.stage("split", progress=progress):
        split = split_and_write(
            inter,
            paths.split,
            n_heldout_users=cfg.n_heldout_users,
            seed=cfg.split_seed,
            heldout_prop=cfg.heldout_prop,
        )
        log.drop("split", "validation user with too few songs in the train vocabulary",
                 len(split.dropped_val_users), "users", split.dropped_val_users)  # fmt: skip
        log.drop("split", "test user with too few songs in the train vocabulary",
                 len(split.dropped_test_users), "users", split.dropped_test_users)  # fmt: skip
        summary, unique_sid = split.summary, split.unique_sid
        train_users = pd.Index(split.train_users)
        log.keep(
            "split",
            songs=summary["n_songs"],
            train_users=summary["n_train_users"],
            validation_users=summary["n_val_users"],
            test_users=summary["n_test_users"],
        )

    with log.stage("catalog", progress=progress):
        in_train = np.asarray(inter["user_id"].isin(train_users))
        plays = inter[in_train].groupby("song_id", observed=True)["count"].sum()
        plays.index = plays.index.astype(str)
        stats = data.dataset_stats(inter)
        del inter, in_train
        row = pd.Series(np.arange(len(feat_ids)), index=feat_ids)
        raw = feat_raw[row.loc[unique_sid].to_numpy()]
        del feat_raw
        songs = src.songs.set_index("song_id").loc[unique_sid]
        catalog = pd.DataFrame(
            {
                "song_id": unique_sid,
                "title": songs["title"].to_numpy(),
                "artist": songs["artist"].to_numpy(),
                "year": songs["year"].fillna(0).astype(np.int32).to_numpy(),
                "tags": _observed_tags(src, unique_sid, cfg.min_tag_weight, log),
                "plays": plays.reindex(unique_sid).fillna(0).astype(np.int64).to_numpy(),
                "audio": [str(src.audio[s]) if s in src.audio else "" for s in unique_sid],
            }
        )
        if src.song_truth is not None:
            catalog["true_tags"] = _tag_lists(src.song_truth, unique_sid)
        if "spec" in songs:
            catalog["spec"] = songs["spec"].to_numpy()
        catalog.to_parquet(paths.catalog, index=False)
        np.save(paths.raw_embeddings, raw)
        encoder.fit_normalization(raw)
        encoder.save(paths.encoder)
        n_tagged = int((catalog["tags"].map(len) > 0).sum())
        log.keep(
            "catalog",
            songs=len(catalog),
            tagged=n_tagged,
            with_year=int((catalog["year"] > 0).sum()),
        )

    with log.stage("prototypes", progress=progress):
        chosen, used_fallbacks = choose_prototypes(
            catalog,
            pd.Series(catalog["plays"].to_numpy(), index=catalog["song_id"]),
            encoder.transform(raw),
            fallbacks=cfg.fallbacks,
            seed=cfg.prototype_seed,
        )
        for tag, other in used_fallbacks.items():
            log.note(f"tag {tag!r} has no song: its prototype is chosen among {other!r} songs")
        clip_raw, tables, exported = _prototype_features(
            chosen, src, encoder, catalog, raw, paths, cfg, log
        )
        paths.prototype_choices.write_text(
            json.dumps({r: [asdict(p) for p in ps] for r, ps in tables.items()}, indent=1)
        )
        np.savez(paths.clip_embeddings, **clip_raw)

    meta = {
        "format": "apron-prepared",
        "version": PREPARED_VERSION,
        "config": asdict(cfg),
        "source": {"path": str(Path(source).resolve()), "name": src.meta.get("name")},
        "encoder": encoder.name,
        "split": summary,
        "filter": asdict(frep),
        "stats": stats,
        "fallbacks_used": used_fallbacks,
        "clips_exported": exported,
        "report": log.to_dict(),
    }
    paths.meta.write_text(json.dumps(meta, indent=1, default=float) + "\n")
    if progress:
        print(log.table(), flush=True)
    return meta


def _prototype_features(
    chosen: dict[str, list[prototypes.Prototype]],
    src: Source,
    encoder,
    catalog: pd.DataFrame,
    raw: np.ndarray,
    paths: PreparedPaths,
    cfg: PrepareConfig,
    log: PrepLog,
) -> tuple[dict[str, np.ndarray], dict[str, list[prototypes.Prototype]], bool]:
    """Raw clip features per rule, the tables with clip positions, and whether clips were
    exported. A clip is cut from audio when every prototype song has audio, else taken
    from the source's clip embeddings when they cover every prototype song; otherwise the
    whole songs' features stand in (duration 0 in the table) and no clips are written."""
    needed = {p.song_id for ps in chosen.values() for p in ps}
    if paths.prototypes.exists():
        shutil.rmtree(paths.prototypes)
    if needed <= set(src.audio):
        return (*_audio_clips(chosen, src, encoder, paths, cfg), True)
    if src.clips is not None and needed <= set(src.clips.row_of):
        log.note("prototype clips: the source's clip embeddings (no audio, so none exported)")
        return (*_embedded_clips(chosen, src.clips), False)
    log.note("prototype clips: whole-song features (the source has no audio or clip embeddings)")
    row = {s: i for i, s in enumerate(catalog["song_id"])}
    tables = {r: [replace(p, duration_s=0.0) for p in ps] for r, ps in chosen.items()}
    feats = {r: raw[[row[p.song_id] for p in ps]] for r, ps in tables.items()}
    return feats, tables, False


def _embedded_clips(
    chosen: dict[str, list[prototypes.Prototype]], clips: ClipEmbeddings
) -> tuple[dict[str, np.ndarray], dict[str, list[prototypes.Prototype]]]:
    feats, tables = {}, {}
    for rule, ps in chosen.items():
        rows = [clips.row_of[p.song_id] for p in ps]
        feats[rule] = clips.features.raw[rows]
        tables[rule] = [
            replace(p, start_s=float(clips.start_s[i]), duration_s=float(clips.duration_s[i]))
            for p, i in zip(ps, rows, strict=True)
        ]
    return feats, tables


def _audio_clips(
    chosen: dict[str, list[prototypes.Prototype]],
    src: Source,
    encoder,
    paths: PreparedPaths,
    cfg: PrepareConfig,
) -> tuple[dict[str, np.ndarray], dict[str, list[prototypes.Prototype]]]:
    tables, clips = cut_clips(chosen, src.audio, encoder, clip_s=cfg.clip_s)
    feats = {}
    for rule, ps in tables.items():
        try:
            feats[rule] = np.stack(
                [encoder.raw_features(clips[(p.song_id, p.start_s, p.duration_s)]) for p in ps]
            )
        except ApronError as e:  # an encoder refusing a clip (too short, silent)
            raise DataError(f"prototype clips of rule {rule!r} cannot be embedded: {e}") from None
        prototypes.export_prototypes(
            ps,
            paths.clips(rule),
            lambda p: clips[(p.song_id, p.start_s, p.duration_s)],
            sr=encoder.sr,
            extra={"source": src.meta.get("name"), "clip_s": cfg.clip_s},
        )
    return feats, tables
