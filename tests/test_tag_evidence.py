"""Upload tag evidence: musicnn's heads on our 80 tags, and how it joins the grounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from apron_core.encoders import get_encoder, resample
from apron_core.encoders.musicnn import MUSICNN_SR, MusicnnEncoder
from apron_core.engine import Engine, UploadedSong
from apron_core.errors import ConfigError, DataError
from apron_core.steering import SteeringConfig
from apron_core.tag_evidence import TAG_SOURCES, TagEvidence, noisy_or
from apron_core.tags import TAG_NAMES, K

SR = 22050


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonics on a changing pitch and a little noise: not silent, not constant."""
    t = np.arange(round(seconds * SR)) / SR
    f0 = 110.0 * 2 ** (np.floor(t) % 5 / 12)
    y = sum(0.3 / (h + 1) * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(4))
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (y + 0.02 * noise).astype(np.float32)


@pytest.fixture(scope="module")
def heads() -> TagEvidence:
    return TagEvidence(("msd", "mtt"))


def test_every_source_is_one_of_our_tags_and_a_tag_of_its_head(heads):
    assert set(TAG_SOURCES) <= set(TAG_NAMES)
    pairs = heads.columns()  # raises if a head lacks a listed tag
    assert sum(len(p) for p in pairs.values()) == sum(len(s) for s in TAG_SOURCES.values())
    assert heads.tags_named() == [t for t in TAG_NAMES if t in TAG_SOURCES]


def test_evidence_is_a_probability_where_a_head_speaks_and_nan_elsewhere(heads):
    e = heads.of_signal(music(4.0), SR)
    assert e.shape == (K,)
    spoken = np.array([t in TAG_SOURCES for t in TAG_NAMES])
    assert np.isnan(e[~spoken]).all() and not np.isnan(e[spoken]).any()
    assert ((e[spoken] >= 0) & (e[spoken] <= 1)).all()


def test_a_tag_takes_its_strongest_source(heads):
    y = music(4.0, seed=1)
    y16 = resample(y, SR, MUSICNN_SR)
    msd = heads._taggers["msd"].clip_feature(y16, "taggram")
    mtt = heads._taggers["mtt"].clip_feature(y16, "taggram")
    names = {"msd": heads._taggers["msd"].tags, "mtt": heads._taggers["mtt"].tags}
    got = heads.of_signal(y, SR)
    for tag in ("metal", "strings", "1980s"):
        probs = {"msd": msd, "mtt": mtt}
        want = max(float(probs[h][names[h].index(n)]) for h, n in TAG_SOURCES[tag])
        assert got[TAG_NAMES.index(tag)] == pytest.approx(want, abs=1e-6)


def test_the_bundle_encoders_msd_pass_is_reused_not_run_again(monkeypatch):
    encoder = get_encoder("musicnn+librosa")
    heads = TagEvidence(("msd", "mtt"), reuse=encoder)
    (msd_part,) = [p for p in encoder.parts() if isinstance(p, MusicnnEncoder)]
    assert heads._taggers["msd"] is msd_part and heads._taggers["mtt"] is not msd_part
    calls = []
    real = MusicnnEncoder.patch_outputs

    def counted(self, patches):
        calls.append(self.config.weights)
        return real(self, patches)

    monkeypatch.setattr(MusicnnEncoder, "patch_outputs", counted)
    y = music(4.0, seed=2)
    encoder.raw_features(y)  # the embedding: one MSD pass
    heads.of_signal(y, SR)  # the heads: the kept MSD outputs, one MTT pass
    assert calls == ["msd", "mtt"]
    heads.of_signal(y, SR)  # the same clip again: nothing runs
    assert calls == ["msd", "mtt"]
    encoder.forget_recent()  # through the concatenation to its musicnn part
    heads.forget_recent()
    heads.of_signal(y, SR)
    assert calls == ["msd", "mtt", "msd", "mtt"]


def test_kept_outputs_give_the_same_features_as_a_fresh_pass():
    y16 = music(7.0, seed=3)  # read as 16 kHz: any signal does for this check
    enc = MusicnnEncoder(device="cpu")
    first = enc.clip_feature(y16, "penultimate")
    taggram = enc.clip_feature(y16, "taggram")  # from the kept outputs
    fresh = MusicnnEncoder(device="cpu", layer="taggram").raw_features(y16)
    assert np.abs(taggram - fresh).max() < 1e-6
    assert np.abs(first - enc.raw_features(y16)).max() == 0
    with pytest.raises(ConfigError, match="layer='nope'"):
        enc.clip_feature(y16, "nope")


@pytest.mark.parametrize(
    "heads, match",
    [(("msd", "msd"), "at most once"), (("lastfm",), "'lastfm'"), ((), "at most once")],
)
def test_bad_heads_are_named(heads, match):
    with pytest.raises(ConfigError, match=match):
        TagEvidence(heads)


def test_steering_config_checks_its_upload_taggers():
    assert SteeringConfig().upload_taggers == ("msd", "mtt")
    assert SteeringConfig(upload_taggers=[]).upload_taggers == ()
    with pytest.raises(ConfigError, match="upload_taggers entry 'audioset'"):
        SteeringConfig(upload_taggers=["audioset"])


# --------------------------------------------------------------------------- noisy-OR


probability = st.floats(0.0, 1.0)


@given(a=probability, e=st.one_of(st.just(float("nan")), probability))
def test_noisy_or_is_at_least_either_source_and_at_most_one(a, e):
    t = noisy_or(torch.tensor([a], dtype=torch.float64), torch.tensor([e], dtype=torch.float64))
    got = float(t[0])
    if np.isnan(e):
        assert got == a  # no opinion: the grounding alone
    else:
        assert max(a, e) - 1e-12 <= got <= 1.0


# --------------------------------------------------------------------------- engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("assets/demo", device="cpu")


def _upload(engine: Engine) -> np.ndarray:
    rng = np.random.default_rng(4)
    return rng.standard_normal((1, engine.bundle.encoder.dim)).astype(np.float32)


def test_evidence_joins_the_uploads_grounded_affinity(engine):
    emb = _upload(engine)
    alone = engine.profile(embeddings=emb)
    silent = engine.profile(embeddings=emb, evidence=np.full((1, K), np.nan))
    np.testing.assert_allclose(silent, alone, atol=1e-12)
    k = TAG_NAMES.index("metal")
    sure = np.full((1, K), np.nan)
    sure[0, k] = 1.0  # a head certain of metal: the upload's metal affinity becomes 1
    with_metal = engine.profile(embeddings=emb, evidence=sure)
    with torch.inference_mode():
        mass = engine._steered.profile_mass(np.array([], int), emb).numpy()
    expected = mass.copy()
    expected[k] = 1.0
    np.testing.assert_allclose(with_metal, expected / expected.sum(), atol=1e-9)
    assert with_metal[k] > alone[k]


@pytest.mark.parametrize(
    "evidence, match",
    [
        (np.full((2, K), 0.5), r"shape \(2, 80\)"),
        (np.full((1, 79), 0.5), r"shape \(1, 79\)"),
        (np.full((1, K), 1.5), r"\[0, 1\]"),
        ([["x"] * K], "numeric"),
    ],
)
def test_bad_evidence_is_refused(engine, evidence, match):
    with pytest.raises(DataError, match=match):
        engine.profile(embeddings=_upload(engine), evidence=evidence)


def test_evidence_needs_the_uploads(engine):
    song = engine.song_ids[0]
    with pytest.raises(DataError, match="without the uploads"):
        engine.profile([song], evidence=np.full((1, K), 0.5))


def test_an_apron_bundle_reads_no_evidence():
    apron = Engine.load("assets/apron", device="cpu")
    assert apron.tag_evidence is None
    emb = _upload(apron)
    np.testing.assert_allclose(
        apron.profile(embeddings=emb, evidence=np.full((1, K), 0.9)),
        apron.profile(embeddings=emb),
    )


def test_encode_upload_decodes_once_and_hears_the_file(engine, tmp_path):
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, music(5.0, seed=5), SR)
    song = engine.encode_upload(path)
    assert isinstance(song, UploadedSong) and song.evidence is not None
    np.testing.assert_allclose(song.embedding, engine.encode(path), atol=1e-6)
    y = engine.bundle.encoder.load_file(path)
    np.testing.assert_allclose(
        song.evidence, engine.tag_evidence.of_signal(y, engine.bundle.encoder.sr), atol=1e-9
    )
    assert engine.encode_upload(path, evidence=False).evidence is None
