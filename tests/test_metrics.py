"""apron_core.metrics: each metric against tiny hand-computed cases."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from apron_core import metrics as M
from apron_core.errors import ConfigError, DataError
from apron_core.tags import K

LOG3 = math.log2(3)


def _held(n_songs, *rows):
    """Dense (U, N) binary matrix with the listed song indices set per user."""
    out = np.zeros((len(rows), n_songs))
    for u, songs in enumerate(rows):
        out[u, list(songs)] = 1
    return out


def _tags(n_songs, song_to_tags):
    a = np.zeros((n_songs, K))
    for j, ts in song_to_tags.items():
        a[j, list(ts)] = 1
    return a


# --------------------------------------------------------------------------- ranking


def test_top_k_sorts_desc_and_breaks_ties_by_lower_index():
    s = np.array([[1.0, 2.0, 2.0, 0.0, 2.0]])
    # three songs tie at 2.0 (1, 2, 4): lower index first, and the boundary tie at k=2
    # keeps songs 1 and 2, not 4
    assert M.top_k(s, 2).tolist() == [[1, 2]]
    assert M.top_k(s, 4).tolist() == [[1, 2, 4, 0]]
    assert M.top_k(np.zeros((1, 6)), 3).tolist() == [[0, 1, 2]]
    s2 = np.array([[0.3, 0.9, 0.1, 0.5]])
    assert M.top_k(s2, 4).tolist() == [[1, 3, 0, 2]]


def test_top_k_matches_full_stable_sort(rng):
    s = rng.integers(0, 5, size=(30, 40)).astype(float)  # many ties
    s[rng.random(s.shape) < 0.2] = -np.inf
    want = np.argsort(-s, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(M.top_k(s, 7), want)


def test_masked_songs_come_last_and_never_count():
    s = np.array([[-np.inf, 0.1, -np.inf, 0.0]])
    assert M.top_k(s, 2).tolist() == [[1, 3]]
    assert M.top_k(s, 4).tolist() == [[1, 3, 0, 2]]  # -inf after finite, by index
    # song 0 is held out but masked: at k=4 it sits at rank 3 and still earns nothing
    held = _held(4, [0])
    assert M.ndcg_at_k(s, held, 4)[0] == 0.0
    assert M.recall_at_k(s, held, 4)[0] == 0.0


def test_mask_fold_in_copies_and_masks_dense_and_sparse():
    s = np.arange(8, dtype=np.float32).reshape(2, 4)
    fold = _held(4, [1], [0, 3])
    for f in (fold, sp.csr_matrix(fold)):
        out = M.mask_fold_in(s, f)
        assert out.dtype == np.float32
        assert np.isneginf(out[0, 1]) and np.isneginf(out[1, 0]) and np.isneginf(out[1, 3])
        assert np.isfinite(out).sum() == 5
    assert np.isfinite(s).all()  # input untouched
    assert M.mask_fold_in(np.array([[1, 2]]), np.array([[0, 1]])).tolist() == [[1.0, -np.inf]]


# --------------------------------------------------------------------------- accuracy


def test_ndcg_hits_at_ranks_1_and_3():
    s = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])  # ranking 0, 1, 2, 3, 4
    held = _held(6, [0, 2])
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 ; IDCG (2 relevant) = 1 + 1/log2(3)
    want = 1.5 / (1 + 1 / LOG3)  # 0.91972...
    assert M.ndcg_at_k(s, held, 5)[0] == pytest.approx(want, abs=1e-12)
    assert M.ndcg_at_k(s, sp.csr_matrix(held), 5)[0] == pytest.approx(want, abs=1e-12)


def test_ndcg_and_recall_with_more_heldout_than_k():
    s = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])  # top-2 = songs 0, 1
    held = _held(6, [1, 3, 4])
    # DCG = 1/log2(3) (hit at rank 2); IDCG = min(2, 3) = 2 terms = 1 + 1/log2(3)
    assert M.ndcg_at_k(s, held, 2)[0] == pytest.approx((1 / LOG3) / (1 + 1 / LOG3))
    # recall = 1 hit / min(2, 3) = 0.5
    assert M.recall_at_k(s, held, 2)[0] == pytest.approx(0.5)


def test_recall_with_fewer_heldout_than_k():
    s = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])  # top-5 = songs 0..4
    held = _held(6, [0, 5])
    # 1 hit (song 0) / min(5, 2) = 0.5   (vae_cf's denominator, not / k)
    assert M.recall_at_k(s, held, 5)[0] == pytest.approx(0.5)
    # NDCG: DCG = 1 ; IDCG = 1 + 1/log2(3)
    assert M.ndcg_at_k(s, held, 5)[0] == pytest.approx(1 / (1 + 1 / LOG3))


def test_users_without_heldout_are_nan_and_ignored_in_the_mean():
    s = np.array([[0.9, 0.8, 0.7, 0.6], [0.9, 0.8, 0.7, 0.6]])
    held = _held(4, [1], [])
    nd = M.ndcg_at_k(s, held, 2)
    assert nd[0] == pytest.approx(1 / LOG3) and np.isnan(nd[1])
    assert np.isnan(M.recall_at_k(s, held, 2)[1])
    res = M.evaluate_accuracy(s, np.zeros((2, 4)), held, ks=(2,))
    # only user 0 counts: NDCG@2 = 1/log2(3) / 1 ; recall@2 = 1 / min(2, 1)
    assert res["ndcg@2"] == pytest.approx(1 / LOG3)
    assert res["recall@2"] == 1.0
    assert res["n_users"] == 1


def test_evaluate_accuracy_masks_fold_in_and_accepts_a_chunk_callable(rng, monkeypatch):
    s = np.array([[0.9, 0.8, 0.7, 0.6]])
    fold = _held(4, [0])
    held = _held(4, [1])
    # song 0 masked: song 1 moves to rank 1 -> NDCG@1 = 1, recall@1 = 1
    res = M.evaluate_accuracy(s, fold, held, ks=(1, 2))
    assert res["ndcg@1"] == 1.0 and res["recall@1"] == 1.0 and res["ndcg@2"] == 1.0
    assert s[0, 0] == 0.9  # not mutated

    # random data, several chunks, array vs callable vs the per-user functions
    monkeypatch.setattr(M, "_CHUNK_ELEMS", 300)  # 300 // 50 = 6 users per chunk
    u, n = 40, 50
    scores = rng.random((u, n)).astype(np.float32)
    fold = sp.csr_matrix(rng.random((u, n)) < 0.2)
    held = sp.csr_matrix((rng.random((u, n)) < 0.1) & ~fold.toarray())
    calls = []

    def chunk(rows):
        calls.append(rows)
        return scores[rows]

    a = M.evaluate_accuracy(scores, fold, held, ks=(5, 10, 20))
    b = M.evaluate_accuracy(chunk, fold, held, ks=(5, 10, 20))
    assert a == b and len(calls) == 7
    masked = M.mask_fold_in(scores, fold)
    for k in (5, 10, 20):
        assert a[f"ndcg@{k}"] == pytest.approx(np.nanmean(M.ndcg_at_k(masked, held, k)))
        assert a[f"recall@{k}"] == pytest.approx(np.nanmean(M.recall_at_k(masked, held, k)))
    wide = np.tile(scores, (1, 3))  # N = 150 >= 100 for the default ks
    res = M.evaluate_accuracy(wide, sp.hstack([fold] * 3), sp.hstack([held] * 3))
    assert set(res) >= {"ndcg@100", "recall@20", "recall@50", "n_users"}


def test_metrics_match_a_vae_cf_style_reference(rng):
    u, n, k = 25, 60, 10
    s = rng.normal(size=(u, n))
    held = (rng.random((u, n)) < 0.15).astype(float)
    held[0] = 0
    held[1, :30] = 1  # |heldout| > k
    idx = np.argsort(-s, axis=1)[:, :k]
    tp = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (np.take_along_axis(held, idx, 1) * tp).sum(1)
    n_held = held.sum(1).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        idcg = np.array([tp[: min(m, k)].sum() for m in n_held])
        want_ndcg = dcg / idcg
        want_recall = np.take_along_axis(held, idx, 1).sum(1) / np.minimum(k, n_held)
    np.testing.assert_allclose(M.ndcg_at_k(s, held, k), want_ndcg)
    np.testing.assert_allclose(M.recall_at_k(s, held, k), want_recall)


# --------------------------------------------------------------------------- per tag


def test_ndcg_t_counts_only_heldout_songs_with_the_tag():
    s = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    held = _held(6, [0, 2, 3])
    song_tags = _tags(6, {0: [8], 2: [8, 40], 3: [40]})  # 8 = rock, 40 = happy
    # rock: relevant {0, 2} at ranks 1, 3 -> (1 + 1/2) / (1 + 1/log2(3))
    assert M.ndcg_t_at_k(s, held, song_tags, 8, 5)[0] == pytest.approx(1.5 / (1 + 1 / LOG3))
    # happy: relevant {2, 3} at ranks 3, 4 -> (1/2 + 1/log2(5)) / (1 + 1/log2(3))
    want = (0.5 + 1 / math.log2(5)) / (1 + 1 / LOG3)
    assert M.ndcg_t_at_k(s, held, song_tags, "happy", 5)[0] == pytest.approx(want)
    # jazz: no held-out song carries it -> NaN
    assert np.isnan(M.ndcg_t_at_k(s, held, song_tags, "jazz", 5)[0])
    per = M.ndcg_per_tag(s, held, song_tags, 5)[0]
    assert per[8] == pytest.approx(1.5 / (1 + 1 / LOG3)) and per[40] == pytest.approx(want)
    assert np.isnan(np.delete(per, [8, 40])).all()


def test_ndcg_per_tag_equals_ndcg_t_for_every_tag(rng, monkeypatch):
    monkeypatch.setattr(M, "_CHUNK_ELEMS", 400)  # several user chunks
    u, n, k = 30, 90, 8
    s = rng.integers(0, 20, size=(u, n)).astype(float)  # ties too
    fold = rng.random((u, n)) < 0.1
    s = M.mask_fold_in(s, fold)
    held = sp.csr_matrix((rng.random((u, n)) < 0.2) & ~fold)
    song_tags = sp.csr_matrix(rng.random((n, K)) < 0.1)
    per = M.ndcg_per_tag(s, held, song_tags, k)
    assert per.shape == (u, K)
    for t in range(K):
        np.testing.assert_allclose(per[:, t], M.ndcg_t_at_k(s, held, song_tags, t, k))
    assert np.isnan(per).any() and (per[~np.isnan(per)] > 0).any()


def test_tag_mix_normalizes_per_user():
    song_tags = _tags(5, {0: [0, 8], 3: [8], 4: [60]})
    top_idx = np.array([[0, 3], [1, 2], [4, 0]])
    d = M.tag_mix(top_idx, song_tags)
    # user 0: tag 0 once, tag 8 twice -> 1/3, 2/3 ; user 1: no tags -> zeros
    assert d[0, 0] == pytest.approx(1 / 3) and d[0, 8] == pytest.approx(2 / 3)
    assert (d[1] == 0).all()
    np.testing.assert_allclose(d[[0, 2]].sum(1), 1.0)
    cat = M.tag_mix_per_category(top_idx, song_tags)
    # user 2: era {1950s: 1}, genre {rock: 1}, instrumentation {piano: 1}, each sums to 1
    assert cat["era"][2, 0] == 1.0 and cat["genre"][2, 0] == 1.0
    assert cat["instrumentation"][2, 0] == 1.0 and (cat["mood"][2] == 0).all()


# --------------------------------------------------------------------------- controllability


def _linear(song_tags, noise=None):
    """Toy model: score = profile @ song_tagsᵀ (+ a fixed per-song offset)."""
    a = np.asarray(song_tags, dtype=float)
    off = np.zeros(a.shape[0]) if noise is None else noise

    def score(profiles):
        p = profiles if profiles.ndim == 2 else profiles.mean(axis=1)
        return p @ a.T + off

    return score


def _toy_world():
    # songs 0-2 carry tag 0 (1950s), 3-5 tag 1 (1960s), 6-7 tag 2 (1970s)
    song_tags = _tags(8, {0: [0], 1: [0], 2: [0], 3: [1], 4: [1], 5: [1], 6: [2], 7: [2]})
    score = _linear(song_tags, noise=-0.01 * np.arange(8))
    profiles = np.zeros((2, K))
    profiles[:, :3] = [0.5, 0.3, 0.2]
    fold = _held(8, [0], [0])
    held = _held(8, [1, 7], [1, 3])
    return score, profiles, fold, held, song_tags


def test_controllability_hand_computed():
    score, profiles, fold, held, song_tags = _toy_world()
    # before: scores .5-.0j / .3-.0j / .2-.0j, song 0 masked -> top-2 = [1, 2]
    #   user 0: NDCG_0 = 1 (song 1 at rank 1); NDCG_2 = 0 (song 7 missing)
    #   user 1: NDCG_0 = 1; NDCG_1 = 0 (song 3 missing)
    # zero tag 0 -> profile (0, .6, .4): top-2 = [3, 4]
    #   user 0: NDCG_0 = 0, NDCG_2 = 0 -> delta 1, collateral |0 - 0| = 0
    #   user 1: NDCG_0 = 0, NDCG_1 = 1 -> delta 1, collateral |1 - 0| = 1
    rep = M.controllability(score, profiles, fold, held, song_tags, k=2, top_n=1)
    assert rep.n_pairs == 2
    assert rep.delta == 1.0 and rep.relative == 1.0 and rep.collateral == 0.5
    assert rep.ndcg_before == 1.0 and rep.ndcg_after == 0.0
    assert rep.per_category["era"].n_pairs == 2 and rep.per_category["genre"].n_pairs == 0
    assert np.isnan(rep.per_category["genre"].delta)
    # top_n=3: tag 1 (user 0 has no held-out 1960s song) is skipped; user 1 / tag 1:
    #   zero tag 1 -> (5/7, 0, 2/7): top-2 still [1, 2] -> NDCG_1 0 -> 0, delta 0,
    #   collateral |NDCG_0 1 -> 1| = 0. tag 2 for user 0: before 0, after: (.625, .375, 0)
    #   top-2 [1, 2] -> 0; delta 0, collateral 0. Tag 2 for user 1: no held-out -> skipped.
    rep3 = M.controllability(score, profiles, fold, held, song_tags, k=2, top_n=3)
    assert rep3.n_pairs == 4
    assert rep3.delta == pytest.approx(2 / 4) and rep3.ndcg_before == pytest.approx(2 / 4)
    assert rep3.relative == pytest.approx(1.0) and rep3.collateral == pytest.approx(1 / 4)
    assert sorted(zip(rep3.pair_user.tolist(), rep3.pair_tag.tolist(), strict=True)) == [
        (0, 0), (0, 2), (1, 0), (1, 1)
    ]  # fmt: skip
    d = rep3.to_dict()
    assert d["n_pairs"] == 4 and d["per_category"]["era"]["n_pairs"] == 4


def test_collateral_rest_separates_the_removed_songs_from_the_rest():
    # song 2 carries tags 0 and 2. One user: fold-in song 0, held out {2, 6}; profile
    # (.5, .3, .2), score = profile @ tagsᵀ - .01 j. Before: top-2 [2, 1] (song 2: .68).
    #   NDCG_0 = 1 (song 2), NDCG_2 = 1 / (1 + 1/log2 3) (song 2 of {2, 6}).
    # Zero tag 0 -> (0, .6, .4): top-2 [3, 4]. Delta 1; NDCG_2 drops to 0 -> collateral
    #   .613, all of it from song 2, which carries t. Without t, tag 2's only held-out
    #   song is 6, outside both lists: collateral_rest 0.
    song_tags = _tags(8, {0: [0], 1: [0], 2: [0, 2], 3: [1], 4: [1], 5: [1], 6: [2], 7: [2]})
    score = _linear(song_tags, noise=-0.01 * np.arange(8))
    profiles = np.zeros((1, K))
    profiles[0, :3] = [0.5, 0.3, 0.2]
    rep = M.controllability(
        score, profiles, _held(8, [0]), _held(8, [2, 6]), song_tags, k=2, top_n=1
    )
    assert rep.delta == 1.0
    assert rep.collateral == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert rep.collateral_rest == 0.0 and rep.collateral_rest_signed == 0.0
    assert rep.to_dict()["collateral_rest"] == 0.0


def test_collateral_rest_equals_collateral_when_songs_carry_one_tag():
    score, profiles, fold, held, song_tags = _toy_world()
    rep = M.controllability(score, profiles, fold, held, song_tags, k=2, top_n=1)
    # user 1's NDCG_1 rises 0 -> 1, user 0's NDCG_2 stays 0 (see the hand-computed test)
    assert rep.collateral_rest == pytest.approx(rep.collateral) == pytest.approx(0.5)
    assert rep.collateral_rest_signed == pytest.approx(0.5)


def _random_world(rng, u=60, n=200):
    song_tags = np.zeros((n, K))
    song_tags[np.arange(n), rng.integers(0, 10, n)] = 1  # one of 10 disjoint tags per song
    profiles = rng.dirichlet(np.ones(10), size=u)
    profiles = np.concatenate([profiles, np.zeros((u, K - 10))], axis=1)
    fold = rng.random((u, n)) < 0.1
    held = (rng.random((u, n)) < 0.1) & ~fold
    return profiles, sp.csr_matrix(fold), sp.csr_matrix(held), song_tags


def test_controllability_on_a_linear_toy_model(rng):
    profiles, fold, held, song_tags = _random_world(rng)
    score = _linear(song_tags, noise=0.01 * rng.random(song_tags.shape[0]))
    calls = []

    def counted(p):
        calls.append(p.shape[0])
        return score(p)

    rep = M.controllability(counted, profiles, fold, held, song_tags, k=20, top_n=5)
    assert calls == [60] * 6  # one unedited call + one per rank, all users each time
    assert rep.n_pairs > 100
    assert rep.delta > 0 and 0 < rep.relative <= 1
    assert rep.ndcg_after < rep.ndcg_before
    # batching users and a per-head profile with identical heads give the same figures
    rep_b = M.controllability(score, profiles, fold, held, song_tags, k=20, top_n=5, batch_users=7)
    heads = np.repeat(profiles[:, None, :], 4, axis=1)
    rep_h = M.controllability(score, heads, fold, held, song_tags, k=20, top_n=5)
    for other in (rep_b, rep_h):
        assert other.n_pairs == rep.n_pairs
        assert other.delta == pytest.approx(rep.delta)
        assert other.collateral == pytest.approx(rep.collateral)


def test_controllability_of_a_model_that_ignores_the_profile(rng):
    profiles, fold, held, song_tags = _random_world(rng)
    fixed = rng.random(song_tags.shape[0])
    rep = M.controllability(
        lambda p: np.tile(fixed, (p.shape[0], 1)), profiles, fold, held, song_tags, k=20
    )
    assert rep.n_pairs > 0
    assert rep.delta == 0.0 and rep.collateral == 0.0 and rep.relative == 0.0


def test_controllability_uses_a_custom_edit():
    score, profiles, fold, held, song_tags = _toy_world()
    seen = []

    def no_op(p, tag_idx, factor):
        seen.append((tag_idx.tolist(), factor))
        return p

    rep = M.controllability(score, profiles, fold, held, song_tags, k=2, top_n=1, edit=no_op)
    assert seen == [([0, 0], 0.0)]
    assert rep.delta == 0.0 and rep.n_pairs == 2


def test_profile_all_on_one_tag_is_skipped():
    score, profiles, fold, held, song_tags = _toy_world()
    profiles[0] = 0
    profiles[0, 0] = 1.0  # removing tag 0 would leave nothing -> user 0's pair skipped
    rep = M.controllability(score, profiles, fold, held, song_tags, k=2, top_n=1)
    assert rep.n_pairs == 1 and rep.pair_user.tolist() == [1]


def test_scale_tag_rows_renormalizes_flat_and_per_head():
    p = np.array([[0.5, 0.3, 0.2] + [0.0] * (K - 3)])
    out = M.scale_tag_rows(p, np.array([0]), 0.0)
    np.testing.assert_allclose(out[0, :3], [0.0, 0.6, 0.4])
    out = M.scale_tag_rows(p, np.array([2]), 4.0)  # 0.8 / 1.6 ...
    np.testing.assert_allclose(out[0, :3], [0.5 / 1.6, 0.3 / 1.6, 0.8 / 1.6])
    heads = np.stack([p[0], np.roll(p[0], 1)])[None]  # (1, 2, 80)
    out = M.scale_tag_rows(heads, np.array([1]), 0.0)
    np.testing.assert_allclose(out[0, 0, :3], [0.5 / 0.7, 0.0, 0.2 / 0.7])
    np.testing.assert_allclose(out[0, 1, :4], [0.0, 0.0, 0.3 / 0.5, 0.2 / 0.5])
    assert p[0, 0] == 0.5  # input untouched


# --------------------------------------------------------------------------- response


def test_response_hand_computed():
    score, profiles, fold, _, song_tags = _toy_world()
    rep = M.response(score, profiles[:1], fold[:1], song_tags, scales=(0, 1), k=2, tags=[0, 5])
    # tag 0 at 0x: top-2 = [3, 4] -> share 0 ; at 1x: [1, 2] -> share 1 ; rho = 1
    np.testing.assert_allclose(rep.share[0], [0.0, 1.0])
    assert rep.rho[0] == pytest.approx(1.0)
    # tag 5 (no songs, weight 0): share 0 at both scales -> flat -> rho NaN
    np.testing.assert_allclose(rep.share[1], [0.0, 0.0])
    assert np.isnan(rep.rho[1])
    assert rep.median_rho == pytest.approx(1.0)
    assert rep.frac_rho_ge_0_8 == 1.0  # tag 5 has no catalog song: not eligible


def test_response_on_a_linear_toy_model(rng):
    n = 300
    song_tags = (rng.random((n, K)) < 0.15).astype(float)
    song_tags[:, 79] = 0  # a tag no song carries
    profiles = rng.dirichlet(np.ones(K), size=40)
    fold = rng.random((40, n)) < 0.1
    score = _linear(song_tags)
    rep = M.response(score, profiles, fold, song_tags, k=20, users=np.arange(30))
    assert rep.share.shape == (K, 5) and rep.n_users.tolist() == [30] * K
    np.testing.assert_allclose(rep.rho[:79], 1.0)
    assert np.isnan(rep.rho[79])
    assert rep.median_rho == pytest.approx(1.0) and rep.frac_rho_ge_0_8 == 1.0
    assert rep.per_category["instrumentation"]["n_tags"] == 20
    assert set(rep.to_dict()["rho"]) >= {"1950s", "drum machine"}


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: M.top_k(np.ones((2, 5)), 0), ConfigError, r"k=0"),
        (lambda: M.top_k(np.ones((2, 5)), 6), ConfigError, r"k=6 .*from 1 to 5 \(5 songs\)"),
        (lambda: M.top_k(np.ones((2, 5)), 2.0), ConfigError, r"k=2\.0"),
        (lambda: M.top_k(np.ones(5), 2), DataError, r"shape \(5,\)"),
        (lambda: M.top_k(np.array([[1.0, np.nan]]), 1), DataError, r"scores\[0, 1\] is NaN"),
        (lambda: M.ndcg_at_k(np.ones((2, 5)), np.ones((2, 4)), 1), DataError, r"\(2, 4\)"),
        (lambda: M.mask_fold_in(np.ones((2, 5)), np.ones((3, 5))), DataError, r"\(3, 5\)"),
        (
            lambda: M.ndcg_t_at_k(np.ones((1, 5)), np.ones((1, 5)), np.ones((5, K)), 80, 1),
            ConfigError,
            r"tag=80",
        ),
        (
            lambda: M.ndcg_per_tag(np.ones((1, 5)), np.ones((1, 5)), np.ones((5, 79)), 1),
            DataError,
            r"song_tags has shape \(5, 79\)",
        ),
        (
            lambda: M.evaluate_accuracy(np.ones((1, 5)), np.zeros((1, 5)), np.ones((1, 5)), ks=[9]),
            ConfigError,
            r"ks=9",
        ),
        (
            lambda: M.evaluate_accuracy(np.ones((1, 5)), np.zeros((1, 5)), np.zeros((1, 5)), ks=1),
            DataError,
            "no user has a held-out song",
        ),
        (lambda: M.tag_mix(np.array([[0, 7]]), np.ones((5, K))), DataError, r"index 7"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _ctrl(**kw):
    score, profiles, fold, held, song_tags = _toy_world()
    args = {"profiles": profiles, "k": 2, "top_n": 1, **kw}
    return M.controllability(
        args.pop("score", score), args.pop("profiles"), fold, held, song_tags, **args
    )


def _neg():
    p = _toy_world()[1].copy()
    p[1, 3] = -0.1
    return p


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (
            {"profiles": _neg()},
            DataError,
            r"profiles\[1\]: the weight of '1980s' \(index 3\) is -0\.1, negative",
        ),
        ({"profiles": np.full((2, K), np.nan)}, DataError, r"profiles\[0\]: .*\(index 0\) is nan"),
        ({"profiles": np.ones((2, 79))}, DataError, r"shape \(2, 79\)"),
        ({"profiles": np.zeros((2, K))}, DataError, r"profiles\[0\]: every weight is 0"),
        ({"profiles": np.ones((3, K))}, DataError, "3"),
        ({"top_n": 0}, ConfigError, r"top_n=0"),
        ({"k": 9}, ConfigError, r"k=9"),
        ({"score": lambda p: np.ones((p.shape[0], 7))}, DataError, r"shape \(2, 7\)"),
        ({"score": lambda p: np.full((p.shape[0], 8), np.nan)}, DataError, "NaN"),
    ],
)
def test_controllability_rejects_bad_arguments(kw, error, match):
    with pytest.raises(error, match=match):
        _ctrl(**kw)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"scales": (1, 1)}, r"scales=\(1, 1\)"),
        ({"scales": (0, -1)}, r"scales=\(0, -1\)"),
        ({"tags": ["tempo"]}, r"unknown tag 'tempo'"),
        ({"users": [5]}, r"row 5"),
    ],
)
def test_response_rejects_bad_arguments(kw, match):
    score, profiles, fold, _, song_tags = _toy_world()
    with pytest.raises(ConfigError, match=match):
        M.response(score, profiles, fold, song_tags, k=2, **kw)
