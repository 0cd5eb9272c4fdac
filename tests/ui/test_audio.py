"""Uploads as the app encodes them (the demo bundle's encoder): every hostile file is one
named, short problem and the good files of the same build still count; nothing escapes
as an exception, not even a MemoryError or a resampler's error. And one render per song
however many visitors ask for it at once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from apron_core.encoders import load_encoder
from apron_core.engine import UploadedSong
from apron_core.errors import DataError
from apron_core.tags import K
from apron_core.ui.audio import MAX_NAME_CHARS, AudioConfig, SongAudio, encode_uploads
from benchmarks.hostile_audio import HOSTILE, make_all

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "assets" / "demo"


@pytest.fixture(scope="module")
def encode():
    encoder = load_encoder(BUNDLE / "encoder")
    return encoder.embed_file


def tone(path: Path, *, seconds: float = 4.0, sr: int = 22050, freq: float = 330.0) -> Path:
    t = np.arange(round(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


@pytest.mark.slow  # builds and encodes ~15 files (~10 s)
def test_a_build_with_hostile_files_keeps_the_good_ones_and_names_each_bad_one(tmp_path, encode):
    hostile = make_all(tmp_path / "hostile")
    good = [tone(tmp_path / "good1.wav"), tone(tmp_path / "good2.wav", freq=220.0)]
    bad = [hostile[name] for name in sorted(hostile)][:8]
    out = encode_uploads([good[0], *bad, good[1]], encode, AudioConfig())
    assert out.names == ("good1.wav", "good2.wav")
    assert out.embeddings is not None and out.embeddings.shape[0] == 2
    refused = [p for p in bad if not any(p.name in n for n in out.names)]
    assert len(out.problems) == len(refused)
    for path, problem in zip(refused, out.problems, strict=True):
        assert path.name[: MAX_NAME_CHARS - 1] in problem  # each named, in upload order
        assert str(path.parent) not in problem  # server paths left out
        assert len(problem) <= 400 and "Traceback" not in problem


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_file_alone_is_a_named_problem_or_an_embedding(tmp_path, encode, name):
    build, _ = HOSTILE[name]
    path = build(tmp_path)
    out = encode_uploads([path], encode, AudioConfig())
    if out.problems:
        assert out.embeddings is None and len(out.problems) == 1
        assert path.name in out.problems[0] and "reference" not in out.problems[0]
    else:  # a garbage MP3 may decode to noise: then it is one usable song
        assert out.embeddings.shape[0] == 1 and np.all(np.isfinite(out.embeddings))


@pytest.mark.parametrize(
    "error, words",
    [
        (MemoryError(), "too large to decode"),
        (ValueError("soxr: invalid rate ratio"), "could not be used (reference"),
        (RuntimeError("numba exploded"), "could not be used (reference"),
        (OSError(5, "I/O error"), "could not be read"),
    ],
)
def test_unplanned_errors_are_named_problems_not_internal_errors(tmp_path, caplog, error, words):
    path = tone(tmp_path / "odd.flac")

    def encode(_: Path) -> np.ndarray:
        raise error

    out = encode_uploads([path], encode, AudioConfig())
    assert out.embeddings is None and len(out.problems) == 1
    assert "'odd.flac'" in out.problems[0] and words in out.problems[0]
    if "reference" in words:  # the traceback is in the log, under that reference
        ref = out.problems[0].split("reference ")[1][:8]
        assert any(ref in r.getMessage() for r in caplog.records)


def test_an_upload_shorter_than_the_encoder_reads_is_named(tmp_path, encode):
    out = encode_uploads([tone(tmp_path / "blip.wav", seconds=2.0)], encode, AudioConfig())
    assert out.embeddings is None and len(out.problems) == 1
    assert out.problems[0].startswith("'blip.wav': signal is 2.00 s long")
    assert "needs at least 3 s of audio" in out.problems[0]


def test_tag_evidence_travels_with_the_embeddings(tmp_path):
    paths = [tone(tmp_path / f"{i}.wav") for i in range(3)]
    heard = np.full(K, np.nan)
    heard[3] = 0.25
    songs = iter([UploadedSong(np.zeros(4), heard), UploadedSong(np.ones(4)), np.ones(4)])
    out = encode_uploads(paths, lambda _: next(songs), AudioConfig())
    assert out.embeddings.shape == (3, 4) and out.evidence.shape == (3, K)
    assert out.evidence[0, 3] == 0.25 and np.isnan(out.evidence[1:]).all()
    plain = encode_uploads(paths[:1], lambda _: np.ones(4), AudioConfig())
    assert plain.evidence is None  # nobody heard anything: no evidence at all


def test_an_encoder_returning_garbage_is_refused(tmp_path):
    path = tone(tmp_path / "nan.wav")
    out = encode_uploads([path], lambda _: np.full(4, np.nan), AudioConfig())
    assert out.embeddings is None and "no usable embedding" in out.problems[0]


def test_names_are_cut_and_too_many_files_refused(tmp_path):
    long_name = tmp_path / ("<b>" + "n" * 200 + ".wav")
    long_name.write_bytes(b"")
    out = encode_uploads([long_name], lambda _: np.zeros(3), AudioConfig())
    assert len(out.problems) == 1 and "n" * 100 not in out.problems[0]
    assert "…" in out.problems[0] and "<b>" in out.problems[0]  # escaped where it is shown
    with pytest.raises(DataError, match="11 files uploaded; the limit is 10"):
        encode_uploads([long_name] * 11, lambda _: np.zeros(3), AudioConfig())


def test_concurrent_requests_for_one_song_render_it_once(tmp_path, monkeypatch):
    import apron_core.world.render as render

    calls: list[str] = []
    started = threading.Event()

    def slow_render(spec, **kwargs):
        calls.append(spec.song_id)
        started.set()
        threading.Event().wait(0.3)  # long enough for every request to arrive meanwhile
        return np.zeros(2205, dtype=np.float32)

    monkeypatch.setattr(render, "render_song", slow_render)
    from apron_core.bundle import load_bundle

    catalog = load_bundle(BUNDLE).catalog.head(2)
    specs = dict(zip(catalog["song_id"], catalog["spec"], strict=True))
    audio = SongAudio(specs, AudioConfig(cache_dir=tmp_path / "renders"))
    assert audio.available, audio.reason  # FluidSynth is a runtime dependency (packages.txt)
    first = next(iter(specs))
    paths: list[Path] = []
    threads = [threading.Thread(target=lambda: paths.append(audio.path(first))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert calls == [first] and len(set(paths)) == 1 and paths[0].is_file()
    audio.path(list(specs)[1])  # another song renders on its own
    assert len(calls) == 2
