"""The inference engine: validation, the model's own maths, control, explanations, threads.

Most tests run on the paper's APRON bundle shipped beside the demo (`assets/apron`);
the shipped demo bundle (grounded steering, tests/test_steering.py on a small world)
is checked at the end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
import torch

from apron_core import metrics
from apron_core.engine import Engine, Explanation, Recommendation
from apron_core.errors import AudioError, ConfigError, DataError
from apron_core.model import Apron, ApronConfig
from apron_core.tags import K


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("assets/apron")


@pytest.fixture(scope="module")
def listener_profiles(engine: Engine) -> list[tuple[np.ndarray, list[str]]]:
    return [(engine.profile(d.history), d.history) for d in engine.bundle.demo_listeners]


def _tiny_engine(*, hidden: tuple[int, ...], per_head: bool, seed: int = 0) -> Engine:
    """An untrained engine in memory: ReLU/Tanh chains of any depth, no files."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cfg = ApronConfig(
        n_songs=60, emb_dim=12, d_model=16, n_heads=4, hidden=hidden, per_head_profile=per_head
    )
    model = Apron(cfg, torch.randn(K, 12, generator=g), torch.randn(60, 12, generator=g))
    if len(hidden) > 1:  # mix activations: the attribution must hold for any element-wise one
        model.f[2] = torch.nn.ReLU()
    tags = (np.random.default_rng(seed).random((60, K)) < 0.1).astype(np.float32)
    return Engine.from_parts(model, [f"T{i:02d}" for i in range(60)], tags, device="cpu")


# ---------------------------------------------------------------- shapes and the model's maths
def test_shapes_and_dtypes(engine: Engine, listener_profiles) -> None:
    p, history = listener_profiles[0]
    assert p.shape == (K,) and p.dtype == np.float64
    assert p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
    rec = engine.recommend(p, k=20, exclude=history)
    assert isinstance(rec, Recommendation)
    assert rec.indices.shape == (20,) and rec.indices.dtype == np.int64
    assert rec.scores.shape == (20,) and np.all(np.diff(rec.scores) <= 0)  # best first
    assert rec.song_ids == [engine.song_ids[i] for i in rec.indices]
    assert rec.tag_mix.shape == (K,) and rec.tag_mix.sum() == pytest.approx(1.0)
    assert len(rec.explanations) == 20
    assert all(
        isinstance(x, Explanation) and x.contributions.shape == (K,) for x in rec.explanations
    )
    assert [x.song_id for x in rec.explanations] == rec.song_ids
    assert engine.recommend(p, k=5, explain=False).explanations == []
    assert engine.n_songs == len(engine.song_ids) == 4000 and len(engine.tag_names) == K


def test_profile_is_the_models_profile(engine: Engine) -> None:
    history = engine.bundle.demo_listeners[1].history
    idx = torch.as_tensor(engine.song_index(history), device=engine.device)[None]
    with torch.inference_mode():
        want, _ = engine.bundle.model.profile_from_history(idx, torch.ones_like(idx, dtype=bool))
    want = want.reshape(-1, K).mean(0).double().cpu().numpy()  # head mean if per head
    np.testing.assert_allclose(engine.profile(history), want / want.sum(), atol=1e-6)
    # a history is a set: repeating songs changes nothing
    np.testing.assert_allclose(engine.profile(history + history[:5]), engine.profile(history))


def test_scores_are_the_models_scores(engine: Engine, listener_profiles) -> None:
    p, _ = listener_profiles[2]
    rec = engine.recommend(p, k=30)
    with torch.inference_mode():
        w = torch.as_tensor(p, dtype=torch.float32, device=engine.device)[None]
        logits = engine.bundle.model.forward_profile(w)[0].cpu().numpy()
    np.testing.assert_array_equal(rec.indices, np.argsort(-logits, kind="stable")[:30])
    np.testing.assert_allclose(rec.scores, logits[rec.indices], rtol=1e-5, atol=1e-5)


def test_uploaded_embeddings_join_the_history(engine: Engine) -> None:
    history = engine.bundle.demo_listeners[0].history
    rows = engine.song_index(history[:4])
    emb = engine.bundle.model.songs[torch.as_tensor(rows)].cpu().numpy()
    # catalog songs given as "uploads" give the same profile as given by id
    np.testing.assert_allclose(
        engine.profile(embeddings=emb), engine.profile(history[:4]), atol=1e-6
    )
    mixed = engine.profile(history[:2], embeddings=emb[2:])
    np.testing.assert_allclose(mixed, engine.profile(history[:4]), atol=1e-6)
    with pytest.raises(DataError, match=r"shape \(3, 5\)"):
        engine.profile(embeddings=np.zeros((3, 5)))
    with pytest.raises(DataError, match="NaN"):
        engine.profile(embeddings=np.full((1, emb.shape[1]), np.nan))


def test_determinism(engine: Engine, listener_profiles) -> None:
    p, history = listener_profiles[3]
    a, b = (engine.recommend(p, k=20, exclude=history) for _ in range(2))
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert [x.text for x in a.explanations] == [x.text for x in b.explanations]


# ---------------------------------------------------------------- validation
_BAD_PROFILES = {
    "nan": ([np.nan] + [1.0] * 79, "finite"),
    "+inf": ([np.inf] + [1.0] * 79, "finite"),
    "-inf": ([1.0] * 79 + [-np.inf], "finite"),
    "negative": ([1.0] * 40 + [-0.2] + [1.0] * 39, "≥ 0"),
    "huge": ([1e9] + [1.0] * 79, "above"),
    "79 weights": ([1.0] * 79, r"\(79,\).*80"),
    "81 weights": ([1.0] * 81, r"\(81,\).*80"),
    "all zero": ([0.0] * 80, "at least one"),
    "a string": ("rock", "string"),
    "strings inside": (["a"] * 80, "80 numbers"),
    "None": (None, "None"),
    "2-D": ([[1.0] * 80], r"\(1, 80\)"),
}


@pytest.mark.parametrize("name", list(_BAD_PROFILES))
def test_bad_profiles_are_refused(engine: Engine, name: str) -> None:
    weights, message = _BAD_PROFILES[name]
    with pytest.raises(DataError, match=message):
        engine.recommend(weights)
    with pytest.raises(DataError, match=message):  # explain validates the same way
        engine.explain(engine.song_ids[0], weights)


def test_a_bad_weight_is_named_by_its_tag(engine: Engine) -> None:
    weights = [1.0] * 80
    weights[8] = -1.0
    with pytest.raises(DataError, match=r"'rock' \(index 8\) is -1"):
        engine.recommend(weights)


def test_profiles_are_normalized(engine: Engine) -> None:
    """Weights are relative: any positive multiple of a profile recommends the same."""
    unit = np.zeros(K)
    unit[0], unit[-1] = 0.25, 0.75
    scaled = [2] + [0] * 78 + [6]
    a, b = engine.recommend(unit, k=10), engine.recommend(scaled, k=10)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    flat = engine.recommend(np.full(K, 1e6), k=10)  # the largest allowed weights
    np.testing.assert_array_equal(flat.scores, engine.recommend(np.full(K, 1 / K), k=10).scores)


def test_unknown_song_ids(engine: Engine) -> None:
    with pytest.raises(DataError, match=r"'nope'.*'S9'"):
        engine.song_index(["S00000", "nope", "S9"])
    with pytest.raises(DataError, match="and 3 more"):
        engine.song_index([f"x{i}" for i in range(8)])
    p = np.full(K, 1 / K)
    with pytest.raises(DataError, match="'nope'"):
        engine.recommend(p, exclude=["nope"])
    with pytest.raises(DataError, match="'nope'"):
        engine.profile(["nope"])
    with pytest.raises(DataError, match="'nope'"):
        engine.explain("nope", p)
    with pytest.raises(DataError, match="'nope'"):
        engine.tag_mix(["nope"])
    assert engine.song_index("S00003").tolist() == [3]  # one id, not its characters


def test_empty_history(engine: Engine) -> None:
    with pytest.raises(DataError, match="empty"):
        engine.profile([])
    with pytest.raises(DataError, match="empty"):
        engine.profile((), embeddings=np.zeros((0, engine.bundle.config.emb_dim)))


def test_exclude(engine: Engine, listener_profiles) -> None:
    for p, history in listener_profiles:
        rec = engine.recommend(p, k=100, exclude=history)
        assert not set(rec.song_ids) & set(history)
    p, history = listener_profiles[0]
    unfiltered = engine.recommend(p, k=len(history) + 100)
    assert set(unfiltered.song_ids) & set(history)  # the history does rank high by itself
    rest = engine.n_songs - len(set(history))
    everything = engine.recommend(p, k=rest, exclude=history + history[:3], explain=False)
    assert sorted(everything.song_ids) == sorted(set(engine.song_ids) - set(history))


@pytest.mark.parametrize(
    "k", [0, -1, 4001, 2.5, True, "20", pytest.param(10**5000, id="5000 digits")]
)
def test_bad_k(engine: Engine, k) -> None:
    with pytest.raises(ConfigError, match="k=") as e:
        engine.recommend(np.full(K, 1 / K), k=k)
    assert len(str(e.value)) < 200  # a 5000-digit k is described, not printed


def test_k_counts_the_exclusions(engine: Engine) -> None:
    with pytest.raises(ConfigError, match=r"from 1 to 3998 \(4000 songs, 2 excluded\)"):
        engine.recommend(np.full(K, 1 / K), k=3999, exclude=["S00000", "S00001"])


@pytest.mark.parametrize("top", [0, 1.0, "3"])
def test_bad_top_is_refused(engine: Engine, top) -> None:
    with pytest.raises(ConfigError, match="top="):
        engine.explain(engine.song_ids[0], np.full(K, 1 / K), top=top)


# ---------------------------------------------------------------- control
def test_edits_move_the_tag_mix(engine: Engine, listener_profiles) -> None:
    """×4 on one of a listener's top-5 tags raises its share of the top-20 (as the app
    shows it), ×0 lowers it — for most (listener, tag) pairs and on average."""
    up, down = [], []
    for p, history in listener_profiles:
        for t in np.argsort(-p)[:5]:

            def share(factor: float, p=p, t=t, history=history) -> float:
                q = p.copy()
                q[t] *= factor
                mix = engine.recommend(q / q.sum(), k=20, exclude=history, explain=False).tag_mix
                return float(mix[t])

            before = share(1.0)
            up.append(share(4.0) - before)
            down.append(share(0.0) - before)
    up, down = np.array(up), np.array(down)
    assert (up > 0).mean() > 0.5 and up.mean() > 0
    assert (down < 0).mean() > 0.5 and down.mean() < 0


def test_tag_mix_matches_metrics(engine: Engine, listener_profiles) -> None:
    rec = engine.recommend(listener_profiles[4][0], k=20)
    want = metrics.tag_mix(rec.indices[None], engine.bundle.song_tags)[0]
    np.testing.assert_allclose(rec.tag_mix, want, atol=1e-6)
    np.testing.assert_allclose(engine.tag_mix(rec.song_ids), want, atol=1e-12)
    assert np.array_equal(engine.tag_mix([]), np.zeros(K))


# ---------------------------------------------------------------- explanations
def test_explanations_add_up(engine: Engine, listener_profiles) -> None:
    p, history = listener_profiles[5]
    rec = engine.recommend(p, k=20, exclude=history)
    with torch.inference_mode():
        zero = engine.bundle.model.forward_profile(torch.zeros(1, K, device=engine.device))
    zero = zero[0].cpu().numpy()
    for x, score, row in zip(rec.explanations, rec.scores, rec.indices, strict=True):
        assert x.score == pytest.approx(float(score), abs=1e-6)
        assert x.baseline_score == pytest.approx(float(zero[row]), abs=1e-5)
        # rescale rule against the profile 0: contributions sum to the score's change
        assert x.contributions.sum() == pytest.approx(x.score - x.baseline_score, abs=2e-3)
        assert np.all(x.contributions[p == 0] == 0)  # an unused prototype explains nothing


def test_explanation_top_tags(engine: Engine, listener_profiles) -> None:
    for p, history in listener_profiles[:4]:
        for x in engine.recommend(p, k=20, exclude=history).explanations:
            tags = [t for t, _ in x.top]
            shares = np.array([s for _, s in x.top])
            assert 1 <= len(x.top) <= 3
            assert np.all(x.contributions[tags] > 0)
            assert np.all((shares > 0) & (shares <= 1)) and shares.sum() <= 1 + 1e-9
            assert np.all(np.diff(shares) <= 0)
            assert tags[0] == int(np.argmax(x.contributions))
            assert x.text.startswith("because of " + engine.tag_names[tags[0]])
            assert "\n" not in x.text


def test_explain_one_song_matches_recommend(engine: Engine, listener_profiles) -> None:
    p, history = listener_profiles[6]
    rec = engine.recommend(p, k=5, exclude=history)
    one = engine.explain(rec.song_ids[3], p, top=5)
    np.testing.assert_allclose(one.contributions, rec.explanations[3].contributions, atol=1e-6)
    batch = rec.explanations[3].top
    assert len(one.top) <= 5 and [t for t, _ in one.top[:3]] == [t for t, _ in batch]
    np.testing.assert_allclose([s for _, s in one.top[:3]], [s for _, s in batch], atol=1e-6)


@pytest.mark.parametrize(("hidden", "per_head"), [((), False), ((7,), True), ((9, 5), False)])
def test_any_feed_forward_f(hidden: tuple[int, ...], per_head: bool, rng) -> None:
    """Additivity holds for f of any depth and activation; a slider profile of a per-head
    model is used for every head."""
    e = _tiny_engine(hidden=hidden, per_head=per_head)
    p = rng.dirichlet(np.full(K, 0.3))
    rec = e.recommend(p, k=10)
    model = e.bundle.model
    with torch.inference_mode():
        w = torch.as_tensor(p, dtype=torch.float32)[None]
        if per_head:
            w = w[:, None].expand(-1, model.cfg.n_heads, -1)  # (1, H, K)
        logits = model.forward_profile(w)[0].numpy()
    np.testing.assert_allclose(rec.scores, np.sort(logits)[::-1][:10], rtol=1e-5, atol=1e-5)
    for x in rec.explanations:
        assert x.contributions.sum() == pytest.approx(x.score - x.baseline_score, abs=1e-4)
    with pytest.raises(ConfigError, match="encoder"):
        e.encode("any.wav")


def test_unsupported_layer_is_refused() -> None:
    e = _tiny_engine(hidden=(7,), per_head=False)
    e.bundle.model.f[2] = torch.nn.Softmax(-1)  # not element-wise: no exact attribution
    with pytest.raises(ConfigError, match="Softmax"):
        Engine(e.bundle, device="cpu")


# ---------------------------------------------------------------- threads
def test_concurrent_calls_match_serial(engine: Engine, listener_profiles, rng) -> None:
    jobs = []
    for _ in range(48):
        p, history = listener_profiles[rng.integers(len(listener_profiles))]
        q = p.copy()
        q[rng.integers(K)] *= rng.choice([0.0, 0.5, 2.0, 4.0])
        jobs.append((q, history))

    def run(job):
        q, history = job
        return engine.recommend(q, k=20, exclude=history), engine.profile(history)

    serial = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(run, jobs))
    for (a, pa), (b, pb) in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.tag_mix, b.tag_mix)
        np.testing.assert_array_equal(pa, pb)
        assert [x.text for x in a.explanations] == [x.text for x in b.explanations]


# ---------------------------------------------------------------- audio
def test_encode_a_wav(engine: Engine, tmp_path, rng) -> None:
    sr = 22050
    t = np.arange(3 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    path = tmp_path / "upload.wav"
    sf.write(path, y.astype(np.float32), sr)
    z = engine.encode(path)
    assert z.shape == (engine.bundle.config.emb_dim,) and z.dtype == np.float32
    assert np.all(np.isfinite(z))
    p = engine.profile(embeddings=z[None])
    assert p.shape == (K,) and p.sum() == pytest.approx(1.0)


def test_encode_a_text_file(engine: Engine, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not audio at all\n")
    with pytest.raises(AudioError, match=r"notes\.txt"):
        engine.encode(path)


# ---------------------------------------------------------------- the shipped demo bundle
def test_the_demo_bundle_is_grounded_steering_and_explains_exactly() -> None:
    demo = Engine.load("assets/demo")
    assert demo.kind == "grounded-steering" and demo.n_songs == 4000
    listener = demo.bundle.demo_listeners[0]
    p = demo.profile(listener.history)
    assert p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
    rec = demo.recommend(p, k=20, exclude=listener.history)
    assert not set(rec.song_ids) & set(listener.history)
    for e in rec.explanations:  # each score is its base plus what each tag adds
        assert e.contributions.sum() + e.baseline_score == pytest.approx(e.score, abs=1e-4)
    # moving weight onto one tag raises that tag in the list's mix
    jazz = demo.tag_names.index("jazz")
    edited = p.copy()
    edited[jazz] += 0.2
    after = demo.recommend(edited / edited.sum(), k=20, exclude=listener.history)
    assert after.tag_mix[jazz] > rec.tag_mix[jazz]
