"""End to end on MSD-format fixture files with audio previews: prepare_msd → train (a few
epochs) → evaluate → bundle → the app's loader, through the unchanged commands."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from apron_core.audio import write_audio
from apron_core.bundle import load_bundle
from apron_core.prototypes import load_prototypes
from apron_core.sources.prepared import PreparedPaths, read_meta
from apron_core.tags import TAG_NAMES
from benchmarks.synthetic_msd import _ids, _user_ids, tag_spellings
from training import evaluate as evaluate_cli
from training import prepare as prepare_only_cli
from training import prepare_msd as prepare_cli
from training import train as train_cli

pytestmark = pytest.mark.slow

N_SONGS, N_USERS, N_GROUPS, SR = 120, 300, 6, 22050


def song_audio(k: int, rng: np.random.Generator, seconds: float = 2.5) -> np.ndarray:
    """A chord whose root and brightness follow the song's taste group, plus noise."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110.0 * 2 ** ((k % N_GROUPS) / 3)
    y = sum((0.5**h) * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(1 + k % 4))
    y = y + 0.05 * rng.standard_normal(len(t)) * (1 + k % 3)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def write_msd_fixture(folder: Path, seed: int = 0) -> dict:
    """The MSD files in their real formats; song 0 has no preview, song 1 a corrupt one."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    songs = _ids(rng, b"SO", N_SONGS)
    tracks = _ids(rng, b"TR", N_SONGS + 10)
    track_song = list(range(N_SONGS)) + list(range(10, 20))  # songs 10..19 have 2 tracks
    with open(folder / "unique_tracks.txt", "w") as f:
        for t, s in zip(tracks, track_song, strict=True):
            f.write(f"{t}<SEP>{songs[s]}<SEP>Band {s % 13}<SEP>Tune {s}\n")
        f.write("garbage line without separators\n")
    with open(folder / "tracks_per_year.txt", "w") as f:
        for t, s in zip(tracks[::3], track_song[::3], strict=True):
            f.write(f"{1960 + s % 50}<SEP>{t}<SEP>Band {s % 13}<SEP>Tune {s}\n")
    users = _user_ids(rng, N_USERS)
    group = np.arange(N_SONGS) % N_GROUPS
    with open(folder / "train_triplets.txt", "w") as f:
        for u in range(N_USERS):
            pool = np.flatnonzero(np.isin(group, rng.choice(N_GROUPS, 2, replace=False)))
            for j in rng.choice(pool, size=int(rng.integers(20, 36)), replace=False):
                f.write(f"{users[u]}\t{songs[j]}\t{int(rng.integers(1, 12))}\n")
        f.write(f"{users[0]}\t{songs[5]}\n")  # malformed
        f.write(f"{users[1]}\tSOTHISSONGISUNKNOWN\t3\n")  # unknown song
        f.write(f"{users[2]}\t{songs[7]}\t2\n{users[2]}\t{songs[7]}\t2\n")  # duplicate
    spellings = tag_spellings()
    rows = []
    for s in range(N_SONGS):
        primary = TAG_NAMES[s % len(TAG_NAMES)]
        rows.append((tracks[s], str(rng.choice(spellings[primary])), 100.0))
        extra = TAG_NAMES[int(rng.integers(len(TAG_NAMES)))]
        rows.append((tracks[s], str(rng.choice(spellings[extra])), float(rng.integers(0, 60))))
        rows.append((tracks[s], "female vocalists", 80.0))
        rows.append((tracks[s], f"odd tag {s % 7}", 50.0))
    con = sqlite3.connect(folder / "lastfm_tags.db")
    con.execute("CREATE TABLE tids (tid TEXT)")
    con.execute("CREATE TABLE tags (tag TEXT)")
    con.execute("CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT)")
    tid_row = {t: i + 1 for i, t in enumerate(tracks)}
    tag_list = sorted({r[1] for r in rows})
    con.executemany("INSERT INTO tids VALUES (?)", [(t,) for t in tracks])
    con.executemany("INSERT INTO tags VALUES (?)", [(t,) for t in tag_list])
    con.executemany(
        "INSERT INTO tid_tag VALUES (?, ?, ?)",
        [(tid_row[t], tag_list.index(g) + 1, v) for t, g, v in rows],
    )
    con.commit()
    con.close()
    audio = folder / "audio"
    for s in range(1, N_SONGS):
        fmt = "mp3" if s % 10 == 3 else "ogg" if s % 15 == 4 else "wav"
        sub = audio / tracks[s][2] / tracks[s][3] if s % 2 else audio  # MSD-style nesting
        path = sub / f"{tracks[s]}.{fmt}"
        if s == 1:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x00not audio" * 500)
        else:
            write_audio(path, song_audio(s, rng), sr=SR)
    return {"songs": songs, "tracks": tracks}


def test_prepare_train_evaluate_bundle_load(tmp_path, capsys):
    files = write_msd_fixture(tmp_path / "msd")
    prepared, bundle = tmp_path / "prepared", tmp_path / "bundle"
    code = prepare_cli.main(
        [
            "--msd-dir", str(tmp_path / "msd"),
            "--source", str(tmp_path / "source"),
            "--output", str(prepared),
            "--min-song-listeners", "5",
            "--min-user-songs", "10",
            "--heldout-users", "40",
            "--clip-s", "1.5",
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    meta = read_meta(prepared)
    drops = {(d["stage"], d["reason"].split(" (")[0]): d for d in meta["report"]["drops"]}
    assert drops[("features", "no audio file and no precomputed embedding")]["count"] == 1
    corrupt = drops[("features", "audio could not be decoded or embedded")]
    assert corrupt["count"] == 1 and files["songs"][1] in corrupt["examples"][0]
    assert meta["split"]["n_test_users"] + meta["split"]["n_dropped_test_users"] == 40
    assert meta["clips_exported"] and meta["fallbacks_used"] == {}
    paths = PreparedPaths(prepared)
    for rule in ("most_listened", "purity_aware"):
        protos = load_prototypes(paths.clips(rule))  # 80 clips, in tag order, files present
        assert all(0 < p.duration_s <= 1.5 for p in protos)
        assert {p.song_id for p in protos} <= set(files["songs"][2:])

    code = train_cli.main(
        [
            "--data", str(prepared),
            "--output", str(bundle),
            "--device", "cpu",
            "--set", "epochs=3",
            "--set", "batch_size=64",
            "--set", "d_model=32",
            "--set", "n_heads=4",
            "--set", "hidden=[32]",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    evaluation = json.loads((bundle / "evaluation.json").read_text())
    assert 0 <= evaluation["test"]["accuracy"]["ndcg@100"] <= 1

    (tmp_path / "runs").mkdir()
    code = evaluate_cli.main(
        [
            "--data", str(prepared),
            "--bundle", str(bundle),
            "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "reports"),
            "--response-users", "20",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "reports" / "benchmark.json").read_text())
    assert report["results"][0]["accuracy"]["ndcg@100"] == pytest.approx(
        evaluation["test"]["accuracy"]["ndcg@100"], abs=1e-6
    )

    loaded = load_bundle(bundle)  # what `python app.py --bundle DIR` does first
    catalog = json.loads((bundle / "catalog.jsonl").read_text().splitlines()[0])
    assert set(catalog) >= {"song_id", "title", "artist", "year", "tags"}
    assert len(loaded.catalog) == meta["split"]["n_songs"] and len(loaded.prototypes) == 80
    assert loaded.meta["source"]["data"] == str(prepared)
    assert loaded.meta["source"]["prototype_clips"] == str(paths.clips("purity_aware"))
    assert loaded.demo_listeners and loaded.song_tags.sum() > 0
    # preparing again (other thresholds) embeds nothing twice: features are cached
    args = ["--source", str(tmp_path / "source"), "--output", str(prepared), "--quiet"]
    args += ["--min-song-listeners", "5", "--min-user-songs", "12", "--heldout-users", "40"]
    assert prepare_only_cli.main([*args, "--clip-s", "1.5"]) == 0
    again = read_meta(prepared)["report"]
    assert again["kept"]["features"]["embedded_now"] == 0
    assert again["kept"]["features"]["songs"] == meta["report"]["kept"]["features"]["songs"]

    if importlib.util.find_spec("apron_core.engine") is not None:
        from apron_core.engine import Engine

        engine = Engine.load(bundle)
        history = loaded.demo_listeners[0].history
        recs = engine.recommend(engine.profile(history), k=10, exclude=history)
        assert len(recs.song_ids) == 10 and not set(recs.song_ids) & set(history)
    if importlib.util.find_spec("apron_core.ui.context") is not None:
        from apron_core.engine import Engine
        from apron_core.ui.context import AppConfig, AppContext

        clips = Path(loaded.meta["source"]["prototype_clips"])  # app.py --prototypes CLIPS
        ctx = AppContext.build(
            Engine.load(bundle), AppConfig(bundle_dir=bundle, prototype_dir=clips)
        )
        assert sorted(ctx.clips) == list(range(80))  # every prototype plays
