"""Tests for apron_core.data: validate, filter, split, vae_cf files, matrices, stats."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from apron_core.data import (
    FilterReport,
    Split,
    dataset_stats,
    filter_interactions,
    heldout_matrices,
    read_vae_cf,
    split_strong_generalization,
    to_csr,
    train_matrix,
    validate_interactions,
    write_vae_cf,
)
from apron_core.errors import ConfigError, DataError

FRAMES = ("train", "val_tr", "val_te", "test_tr", "test_te")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def pairs(mapping: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(u, s) for u, songs in mapping.items() for s in songs]
    return pd.DataFrame(rows, columns=["user_id", "song_id"])


def random_world(rng: np.random.Generator, n_users: int = 80, n_songs: int = 60) -> pd.DataFrame:
    """Users with 12-30 songs each, popularity-skewed, plus one private song each."""
    pop = 1.0 / np.arange(1, n_songs + 1)
    pop /= pop.sum()
    rows = []
    for u in range(n_users):
        n = int(rng.integers(12, 31))
        for s in rng.choice(n_songs, size=n, replace=False, p=pop):
            rows.append((f"u{u:03d}", f"s{s:03d}"))
        rows.append((f"u{u:03d}", f"private{u:03d}"))  # never in another user's history
    return pd.DataFrame(rows, columns=["user_id", "song_id"])


def songs_of(frame: pd.DataFrame) -> dict[str, set[str]]:
    return {u: set(g) for u, g in frame.groupby("user_id")["song_id"]}


# --------------------------------------------------------------------------- validate


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (pd.DataFrame({"user_id": ["a"]}), "song_id"),
        (pd.DataFrame({"song_id": ["a"]}), "user_id"),
        (pd.DataFrame({"user_id": ["a", None], "song_id": ["x", "y"]}), "user_id"),
        (pd.DataFrame({"user_id": ["a", "b"], "song_id": ["x", np.nan]}), "song_id"),
        (pd.DataFrame({"user_id": ["a"], "song_id": ["x"], "count": [np.nan]}), "count"),
        (pd.DataFrame({"user_id": ["a"], "song_id": ["x"], "count": [0]}), "count"),
        (pd.DataFrame({"user_id": ["a"], "song_id": ["x"], "count": [1.5]}), "count"),
        (pd.DataFrame({"user_id": [""], "song_id": ["x"]}), "user_id"),
        (pd.DataFrame({"user_id": [], "song_id": []}), "empty"),
    ],
)
def test_validate_rejects_bad_tables(frame: pd.DataFrame, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        validate_interactions(frame)


def test_validate_drops_duplicates_and_stringifies_ids() -> None:
    raw = pd.DataFrame({"user_id": [1, 1, 2, 1], "song_id": [10, 11, 10, 10], "extra": 0})
    out = validate_interactions(raw)
    assert list(out.columns) == ["user_id", "song_id"]
    assert out.to_dict("list") == {"user_id": ["1", "1", "2"], "song_id": ["10", "11", "10"]}
    assert pd.api.types.is_string_dtype(out["user_id"])


def test_validate_sums_counts_of_duplicates() -> None:
    raw = pd.DataFrame(
        {"user_id": ["a", "a", "b", "a"], "song_id": ["x", "y", "x", "x"], "count": [2, 1, 5, 3]}
    )
    out = validate_interactions(raw)
    assert out.to_dict("list") == {
        "user_id": ["a", "a", "b"],
        "song_id": ["x", "y", "x"],
        "count": [5, 1, 5],
    }


# --------------------------------------------------------------------------- filter

# Round 1: s4 has 1 listener -> dropped; then D has 1 song -> dropped, which leaves s3
# with only C. Round 2: s3 dropped; then C has 1 song -> dropped. A and B remain.
TWO_ROUNDS = {"A": ["s1", "s2"], "B": ["s1", "s2"], "C": ["s2", "s3"], "D": ["s3", "s4"]}


def test_filter_iterates_until_both_thresholds_hold() -> None:
    out, report = filter_interactions(pairs(TWO_ROUNDS), min_song_listeners=2, min_user_songs=2)
    assert songs_of(out) == {"A": {"s1", "s2"}, "B": {"s1", "s2"}}
    assert report.rounds == 2 and report.converged
    assert (report.users_before, report.songs_before, report.interactions_before) == (4, 4, 8)
    assert (report.users_after, report.songs_after, report.interactions_after) == (2, 2, 4)
    assert [(s.round, s.step, s.interactions_after) for s in report.steps] == [
        (1, "songs", 7),
        (1, "users", 6),
        (2, "songs", 5),
        (2, "users", 4),
    ]
    json.dumps(asdict(report))  # JSON-able


def test_filter_one_pass_like_vae_cf_leaves_a_violation() -> None:
    out, report = filter_interactions(
        pairs(TWO_ROUNDS), min_song_listeners=2, min_user_songs=2, iterate=False
    )
    assert report.rounds == 1 and not report.converged
    assert out.groupby("song_id")["user_id"].nunique()["s3"] == 1


def test_filter_random_world_meets_thresholds(rng: np.random.Generator) -> None:
    df = random_world(rng)
    out, report = filter_interactions(df, min_song_listeners=5, min_user_songs=15)
    assert isinstance(report, FilterReport) and report.converged
    assert out.groupby("song_id")["user_id"].nunique().min() >= 5
    assert out.groupby("user_id")["song_id"].nunique().min() >= 15
    assert len(out) == report.interactions_after < len(df)
    assert not out.columns.difference(df.columns).size


def test_filter_errors() -> None:
    with pytest.raises(DataError, match="removed all"):
        filter_interactions(pairs(TWO_ROUNDS), min_song_listeners=10, min_user_songs=1)
    with pytest.raises(ConfigError, match="min_user_songs"):
        filter_interactions(pairs(TWO_ROUNDS), min_song_listeners=1, min_user_songs=-1)
    dup = pd.concat([pairs(TWO_ROUNDS)] * 2)
    with pytest.raises(DataError, match="validate_interactions"):
        filter_interactions(dup, min_song_listeners=1, min_user_songs=1)


# --------------------------------------------------------------------------- split


@pytest.fixture
def world(rng: np.random.Generator) -> pd.DataFrame:
    return random_world(rng)


@pytest.fixture
def split(world: pd.DataFrame) -> Split:
    return split_strong_generalization(world, n_heldout_users=10, seed=7)


def test_split_partitions_users(world: pd.DataFrame, split: Split) -> None:
    parts = [set(split.train_users), set(split.val_users), set(split.test_users)]
    dropped = set(split.dropped_val_users) | set(split.dropped_test_users)
    assert sum(map(len, parts)) + len(dropped) == world["user_id"].nunique()
    assert len(set.union(*parts, dropped)) == world["user_id"].nunique()
    assert len(split.val_users) + len(split.dropped_val_users) == 10
    assert len(split.test_users) + len(split.dropped_test_users) == 10
    assert set(split.train["user_id"]) == parts[0]
    assert set(split.val_tr["user_id"]) == set(split.val_te["user_id"]) == parts[1]
    assert set(split.test_tr["user_id"]) == set(split.test_te["user_id"]) == parts[2]


def test_split_vocabulary_is_train_songs(world: pd.DataFrame, split: Split) -> None:
    assert split.unique_sid == sorted(set(split.train["song_id"]))
    vocab = set(split.unique_sid)
    for name in FRAMES[1:]:
        assert set(getattr(split, name)["song_id"]) <= vocab
    # every train user's full history is kept
    train_hist = world[world["user_id"].isin(split.train_users)]
    assert len(split.train) == len(train_hist)
    # private songs of held-out users are outside the vocabulary
    heldout = split.val_users + split.test_users
    assert heldout and not {f"private{u[1:]}" for u in heldout} & vocab


@pytest.mark.parametrize("part", ["val", "test"])
def test_heldout_users_fold_in_and_targets(world: pd.DataFrame, split: Split, part: str) -> None:
    vocab = set(split.unique_sid)
    history = songs_of(world)
    tr, te = songs_of(getattr(split, f"{part}_tr")), songs_of(getattr(split, f"{part}_te"))
    for user in getattr(split, f"{part}_users"):
        restricted = history[user] & vocab
        assert tr[user] | te[user] == restricted
        assert not tr[user] & te[user]
        n = len(restricted)
        assert len(te[user]) == max(5, round(0.2 * n))
        assert len(te[user]) >= 5 and len(tr[user]) >= 1


def test_split_drops_heldout_users_left_with_too_few_songs() -> None:
    # 20 users share songs c0..c9; the last four only know c0..c3 (+ private songs).
    hist = {f"u{i:02d}": [f"c{j}" for j in range(10)] for i in range(16)}
    hist |= {f"v{i}": ["c0", "c1", "c2", "c3", f"p{i}a", f"p{i}b"] for i in range(4)}
    for seed in range(50):  # find a seed that puts some v-users in the held-out parts
        s = split_strong_generalization(pairs(hist), n_heldout_users=5, seed=seed)
        dropped = s.dropped_val_users + s.dropped_test_users
        if dropped:
            break
    assert dropped and all(u.startswith("v") for u in dropped)
    assert not set(dropped) & set(s.val_users + s.test_users + s.train_users)
    assert all(u.startswith("u") for u in s.val_users + s.test_users)


def test_split_is_seeded_and_independent_of_row_order(world: pd.DataFrame, split: Split) -> None:
    shuffled = world.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = split_strong_generalization(shuffled, n_heldout_users=10, seed=7)
    assert again.unique_sid == split.unique_sid
    assert again.train_users == split.train_users
    assert again.val_users == split.val_users and again.test_users == split.test_users
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(split, name))
    other = split_strong_generalization(world, n_heldout_users=10, seed=8)
    assert other.train_users != split.train_users
    assert other.val_users != split.val_users


def test_split_errors(world: pd.DataFrame) -> None:
    small = pairs({f"u{i}": [f"s{j}" for j in range(10)] for i in range(10)})
    with pytest.raises(DataError, match=r"10 users .* n_heldout_users <= 4"):
        split_strong_generalization(small, n_heldout_users=5, seed=0)
    ok = split_strong_generalization(small, n_heldout_users=4, seed=0)
    assert len(ok.train_users) == 2
    for bad in ({"heldout_prop": 0.0}, {"heldout_prop": 1.0}, {"min_heldout_targets": 0}):
        with pytest.raises(ConfigError):
            split_strong_generalization(world, n_heldout_users=5, seed=0, **bad)
    with pytest.raises(DataError, match="min_heldout_targets"):
        split_strong_generalization(small, n_heldout_users=2, seed=0, min_heldout_targets=10)


# --------------------------------------------------------------------------- vae_cf files


def test_write_read_round_trip(split: Split, tmp_path) -> None:
    out = write_vae_cf(split, tmp_path / "pro_sg")
    back = read_vae_cf(out)
    assert back.unique_sid == split.unique_sid
    assert back.train_users == split.train_users
    assert back.val_users == split.val_users and back.test_users == split.test_users
    assert back.seed == split.seed and back.params == split.params
    assert back.dropped_val_users == split.dropped_val_users
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(split, name))
    meta = json.loads((out / "split.json").read_text())
    assert meta["n_songs"] == len(split.unique_sid) and meta["seed"] == 7


def test_vae_cf_layout(split: Split, tmp_path) -> None:
    write_vae_cf(split, tmp_path)
    assert (tmp_path / "unique_sid.txt").read_text().splitlines() == split.unique_sid
    unique_uid = (tmp_path / "unique_uid.txt").read_text().splitlines()
    assert unique_uid == split.train_users + split.val_users + split.test_users
    n_tr, n_va = len(split.train_users), len(split.val_users)
    ranges = {
        "train": (0, n_tr),
        "validation_tr": (n_tr, n_tr + n_va),
        "validation_te": (n_tr, n_tr + n_va),
        "test_tr": (n_tr + n_va, len(unique_uid)),
        "test_te": (n_tr + n_va, len(unique_uid)),
    }
    for name, (lo, hi) in ranges.items():
        path = tmp_path / f"{name}.csv"
        assert path.read_text().split("\n", 1)[0] == "uid,sid"
        t = pd.read_csv(path)
        assert t["uid"].between(lo, hi - 1).all()
        assert t["sid"].between(0, len(split.unique_sid) - 1).all()
    t = pd.read_csv(tmp_path / "train.csv")
    first = t[t["uid"] == 0]["sid"]
    assert {split.unique_sid[i] for i in first} == songs_of(split.train)[split.train_users[0]]


def test_read_plain_vae_cf_without_our_extras(split: Split, tmp_path) -> None:
    write_vae_cf(split, tmp_path)
    (tmp_path / "unique_uid.txt").unlink()
    (tmp_path / "split.json").unlink()
    back = read_vae_cf(tmp_path)
    assert len(back.train_users) == len(split.train_users)
    assert back.test_users[-1] == str(len(split.unique_uid) - 1)
    (tmp_path / "test_te.csv").unlink()
    with pytest.raises(DataError, match=r"test_te\.csv"):
        read_vae_cf(tmp_path)


# --------------------------------------------------------------------------- matrices


def test_train_matrix(split: Split) -> None:
    m = train_matrix(split)
    assert m.shape == (len(split.train_users), len(split.unique_sid))
    assert m.dtype == np.float32 and m.nnz == len(split.train)
    assert set(np.unique(m.data)) == {1.0}


@pytest.mark.parametrize("part", ["validation", "test"])
def test_heldout_matrices_rows_align(split: Split, part: str) -> None:
    tr, te = heldout_matrices(split, part)
    short = "val" if part == "validation" else "test"
    users = getattr(split, f"{short}_users")
    assert tr.shape == te.shape == (len(users), len(split.unique_sid))
    assert tr.multiply(te).nnz == 0
    tr_sets = songs_of(getattr(split, f"{short}_tr"))
    te_sets = songs_of(getattr(split, f"{short}_te"))
    for i, user in enumerate(users):
        assert {split.unique_sid[j] for j in tr[i].indices} == tr_sets[user]
        assert {split.unique_sid[j] for j in te[i].indices} == te_sets[user]
    with pytest.raises(ConfigError):
        heldout_matrices(split, "train")


def test_to_csr_binary_and_unknown_ids() -> None:
    df = pairs({"a": ["x", "z"], "b": ["y"]})
    m = to_csr(pd.concat([df, df]), ["b", "a", "c"], ["x", "y", "z"])
    assert m.toarray().tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 0]]
    with pytest.raises(DataError, match="'q'"):
        to_csr(pairs({"q": ["x"]}), ["a"], ["x"])


# --------------------------------------------------------------------------- stats


def test_dataset_stats_hand_example() -> None:
    df = pairs({"A": ["s1", "s2", "s3"], "B": ["s1"], "C": ["s1", "s2"]})
    stats = dataset_stats(df)
    json.dumps(stats)
    assert (stats["users"], stats["songs"], stats["interactions"]) == (3, 3, 6)
    assert stats["density"] == pytest.approx(6 / 9)
    assert stats["history_length"]["median"] == 2
    assert stats["history_length"]["min"] == 1 and stats["history_length"]["max"] == 3
    assert stats["history_length"]["mean"] == pytest.approx(2.0)
    assert stats["song_listeners"]["median"] == 2 and stats["song_listeners"]["max"] == 3
    assert set(stats["history_length"]) == {
        "min",
        "p5",
        "p25",
        "median",
        "p75",
        "p95",
        "max",
        "mean",
    }
