"""The real-recordings check: hand-computed metrics, the manifest's rules, locating and
unpacking files, and one end-to-end run on generated audio (no Debian audio package)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from apron_core.audio import load_audio, write_audio
from apron_core.errors import DataError
from apron_core.tags import CATEGORIES, K, category_indices, tag_index
from benchmarks import real_recordings as rr


# ---------------------------------------------------------------- metrics, by hand
def test_rank_matrix_orders_best_first_and_breaks_ties_by_tag_order() -> None:
    scores = np.array([[0.1, 0.5, 0.5, 0.2], [3.0, 2.0, 1.0, 0.0]])
    assert rr.rank_matrix(scores).tolist() == [[4, 1, 2, 3], [1, 2, 3, 4]]


def test_first_expected_rank_and_hit_at_k_by_hand() -> None:
    scores = np.array(
        [
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # ranks 1..6 in tag order
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],  # ranks 6..1
            [0.2, 0.9, 0.1, 0.8, 0.0, 0.3],  # ranks 4, 1, 5, 2, 6, 3
        ]
    )
    expected = [[3, 5], [0], [4, 2]]
    assert rr.first_expected_rank(scores, expected).tolist() == [4, 6, 5]
    assert rr.hit_at_k(scores, expected, k=4).tolist() == [True, False, False]
    assert rr.hit_at_k(scores, expected, k=5).tolist() == [True, False, True]


def test_first_expected_rank_refuses_an_empty_label_set() -> None:
    with pytest.raises(DataError, match="recording 1 has no expected tag"):
        rr.first_expected_rank(np.zeros((2, 4)), [[0], []])
    with pytest.raises(DataError, match="2 label sets for 3 recordings"):
        rr.first_expected_rank(np.zeros((3, 4)), [[0], [1]])


def test_confusion_counts_the_strongest_tag_of_the_category() -> None:
    # columns 2, 3, 4 form the "category"; tags 0, 1 lie outside it.
    scores = np.array(
        [
            [9.0, 0.0, 0.1, 0.7, 0.2],  # strongest in category: 3
            [0.0, 9.0, 0.6, 0.1, 0.3],  # 2
            [0.0, 0.0, 0.2, 0.2, 0.1],  # tie 2/3 → 2 (first column)
            [0.0, 0.0, 0.0, 0.0, 1.0],  # 4, but its only expected tag is outside
        ]
    )
    expected = [[2], [2, 4], [3], [0]]
    table = rr.confusion(scores, expected, [2, 3, 4])
    assert {t: dict(c) for t, c in table.items()} == {2: {3: 1, 2: 1}, 4: {2: 1}, 3: {2: 1}}
    assert rr.top1_within(scores, [2, 3, 4]).tolist() == [3, 2, 2, 4]


def test_chance_levels_by_hand_and_by_enumeration() -> None:
    assert rr.chance_hit_at_k(80, 1, 5) == pytest.approx(5 / 80)
    assert rr.chance_hit_at_k(6, 2, 2) == pytest.approx(1 - 6 / 15)  # 1 − C(4,2)/C(6,2)
    assert rr.chance_first_rank(80, 1) == pytest.approx(40.5)
    # Every ranking of 5 tags, 2 expected (tags 0 and 1): mean best rank and hit@2.
    best = []
    for order in itertools.permutations(range(5)):
        best.append(min(order.index(0), order.index(1)) + 1)
    assert np.mean(best) == pytest.approx(rr.chance_first_rank(5, 2))
    assert np.mean(np.array(best) <= 2) == pytest.approx(rr.chance_hit_at_k(5, 2, 2))


def test_standardize_and_cosine_by_hand() -> None:
    by = np.array([[0.0, 1.0], [2.0, 1.0]])  # mean (1, 1), std (1, 0 → floored to 1)
    z = rr.standardize(np.array([[3.0, 4.0]]), by)
    assert z.tolist() == [[2.0, 3.0]]
    c = rr.cosine(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [0.0, 3.0]]))
    np.testing.assert_allclose(c, [[1.0, 0.0], [2**-0.5, 2**-0.5]])


# ---------------------------------------------------------------- summaries
def _recording(rid: str, package: str, **expected: list[str]) -> rr.Recording:
    return rr.Recording(
        id=rid,
        package=package,
        files=(f"/usr/share/x/{rid}.ogg",),
        licence="CC0",
        title=rid,
        artist="a",
        start_s=0.0,
        duration_s=5.0,
        expected={c: tuple(t) for c, t in expected.items()},
        basis="test",
    )


def test_summarize_by_hand() -> None:
    recs = [
        _recording("a", "p1", genre=["metal"], instrumentation=["distorted guitar"]),
        _recording("b", "p1", genre=["jazz"]),
        _recording("c", "p2", genre=["metal", "rock"], mood=["sad"]),
    ]
    scores = np.zeros((3, K))
    scores[0, tag_index("metal")] = 1.0  # rank 1: a hits through its genre
    scores[1] = np.linspace(1.0, 0.5, K)
    scores[1, tag_index("jazz")] = -1.0  # jazz at the bottom: rank 80
    scores[2, tag_index("punk")] = 3.0
    scores[2, tag_index("rock")] = 2.0  # rank 2 overall, strongest genre is punk
    scored = rr.Scored("t", "encoder", "x", "by hand", scores)
    res = rr.summarize(recs, scored, k=5)
    assert res["overall"]["n"] == 3
    assert res["overall"]["hit_at_5"] == pytest.approx(2 / 3)
    assert res["recordings"][1]["first_expected_rank"] == K
    genre = res["categories"]["genre"]
    assert genre["n"] == 3 and genre["hit_at_5"] == pytest.approx(2 / 3)
    assert genre["top1_in_category"] == pytest.approx(1 / 3)  # a only; c's top genre is punk
    assert genre["top1_in_category_chance"] == pytest.approx((1 / 32 + 1 / 32 + 2 / 32) / 3)
    assert set(res["categories"]) == {"genre", "mood", "instrumentation"}  # no era labels
    assert res["confusion"]["genre"]["metal"] == {"metal": 1, "punk": 1}
    assert res["confusion"]["genre"]["rock"] == {"punk": 1}
    assert res["by_package"] == {"p1": {"n": 2, "hit": 0.5}, "p2": {"n": 1, "hit": 1.0}}
    assert res["recordings"][2]["top"][0] == ["punk", 3.0]


# ---------------------------------------------------------------- the manifest
def _raw(**recording) -> dict:
    base = {
        "id": "r1",
        "package": "p",
        "files": ["/usr/share/p/a.ogg"],
        "licence": "CC0",
        "title": "t",
        "artist": "a",
        "start_s": 0.0,
        "duration_s": 30.0,
        "expected": {"genre": ["metal"]},
        "basis": "test",
    }
    base.update(recording)
    return {"packages": {"p": {"version": "1", "licence": "CC0"}}, "recordings": [base]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expected": {"genre": ["sad"]}}, "tag 'sad' is a mood tag, filed under genre"),
        ({"expected": {"genre": ["metall"]}}, "unknown tag 'metall'"),
        ({"expected": {"style": ["metal"]}}, "unknown category 'style'"),
        ({"expected": {"genre": []}}, "no expected tag"),
        ({"package": "q"}, "package 'q' is not under 'packages'"),
        ({"files": ["usr/share/p/a.ogg"]}, "files must be absolute installed paths"),
        ({"duration_s": 0}, "duration_s=0"),
        ({"colour": "red"}, r"unknown field\(s\) \['colour'\]"),
    ],
)
def test_parse_manifest_names_the_bad_value(change: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        rr.parse_manifest(_raw(**change))


def test_parse_manifest_refuses_duplicate_ids() -> None:
    raw = _raw()
    raw["recordings"].append(dict(raw["recordings"][0]))
    with pytest.raises(DataError, match="duplicate id"):
        rr.parse_manifest(raw)


def test_shipped_manifest_meets_the_brief() -> None:
    """≥ 40 recordings of distinct tracks from ≥ 5 packages, each with a licence, a basis
    and 80-tag labels; every package described with the version labelled."""
    m = rr.load_manifest()
    assert len(m.recordings) >= 40
    assert len({r.package for r in m.recordings}) >= 5
    tracks = [r.files[0] for r in m.recordings]
    assert len(set(tracks)) == len(tracks)  # one excerpt per track
    for r in m.recordings:
        assert r.licence and len(r.basis) > 10 and r.duration_s >= 10
        assert all(tag_index(t) in category_indices(c) for c, ts in r.expected.items() for t in ts)
    assert {r.package for r in m.recordings} <= set(m.packages)
    assert sum(bool(r.expected.get("genre")) for r in m.recordings) >= 40
    assert len({t for r in m.recordings for t in r.expected.get("genre", ())}) >= 5


# ---------------------------------------------------------------- locating and unpacking
def test_locate_prefers_the_first_root_and_reports_a_missing_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        (root / "usr/share/x").mkdir(parents=True)
    (second / "usr/share/x/one.ogg").write_bytes(b"1")
    (first / "usr/share/x/two.ogg").write_bytes(b"2")
    (second / "usr/share/x/two.ogg").write_bytes(b"2")
    rec = rr.Recording(
        "r", "p", ("/usr/share/x/one.ogg", "/usr/share/x/two.ogg"), "", "", "", 0, 1, {}, ""
    )
    assert rr.locate(rec, [first, second]) == [
        second / "usr/share/x/one.ogg",
        first / "usr/share/x/two.ogg",
    ]
    gone = dataclass_replace(rec, files=("/usr/share/x/three.ogg",))
    assert rr.locate(gone, [first, second]) is None


def dataclass_replace(rec: rr.Recording, **changes) -> rr.Recording:
    import dataclasses

    return dataclasses.replace(rec, **changes)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_extract_unpacks_only_the_wanted_files_of_a_deb(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN/control").write_text(
        "Package: apron-test\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test\n"
    )
    for name in ("usr/share/t/a.ogg", "usr/share/t/b.ogg", "usr/share/doc/apron-test/copyright"):
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_bytes(name.encode())
    deb = tmp_path / "apron-test_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(pkg), str(deb)], check=True, capture_output=True)
    dest = tmp_path / "root"
    rr.extract(deb, {"usr/share/t/a.ogg", "usr/share/doc/apron-test/copyright"}, dest)
    assert (dest / "usr/share/t/a.ogg").read_bytes() == b"usr/share/t/a.ogg"
    assert (dest / "usr/share/doc/apron-test/copyright").is_file()
    assert not (dest / "usr/share/t/b.ogg").exists()
    with pytest.raises(DataError, match=r"has no file 'usr/share/t/c\.ogg'"):
        rr.extract(deb, {"usr/share/t/c.ogg"}, tmp_path / "other")


# ---------------------------------------------------------------- command line, end to end
def _tone_manifest(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """Two generated recordings (one of them two stems) under a cache root."""
    cache = tmp_path / "cache"
    folder = cache / "root/usr/share/apron-test"
    folder.mkdir(parents=True)
    sr = 22050
    t = np.arange(8 * sr) / sr
    noise = 0.05 * rng.standard_normal(t.size)
    write_audio(folder / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr=sr)
    write_audio(folder / "beat.wav", (noise * (np.sin(2 * np.pi * 2 * t) > 0.9)), sr=sr)
    write_audio(folder / "bass.wav", (0.3 * np.sin(2 * np.pi * 55 * t)).astype(np.float32), sr=sr)
    raw = {
        "packages": {"apron-test": {"version": "1.0", "licence": "CC0"}},
        "recordings": [
            {
                "id": "tone",
                "package": "apron-test",
                "files": ["/usr/share/apron-test/tone.wav"],
                "licence": "CC0",
                "title": "tone",
                "artist": "test",
                "start_s": 0.0,
                "duration_s": 30.0,  # longer than the file: the whole file, as an upload
                "expected": {"genre": ["ambient"], "mood": ["calm"]},
                "basis": "a generated sine",
            },
            {
                "id": "beat",
                "package": "apron-test",
                "files": ["/usr/share/apron-test/beat.wav", "/usr/share/apron-test/bass.wav"],
                "licence": "CC0",
                "title": "beat",
                "artist": "test",
                "start_s": 1.0,
                "duration_s": 5.0,
                "expected": {"instrumentation": ["drum machine", "synth bass"]},
                "basis": "generated noise bursts over a low sine",
            },
        ],
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(raw))
    return manifest, cache


def test_cli_stops_with_how_to_get_missing_audio(tmp_path: Path, capsys) -> None:
    manifest, cache = _tone_manifest(tmp_path, np.random.default_rng(0))
    (cache / "root/usr/share/apron-test/bass.wav").unlink()
    code = rr.main(["--manifest", str(manifest), "--cache", str(cache), "--no-report"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "1 of 2 recordings are missing (packages apron-test)" in err
    assert "--fetch" in err and "apt-get install apron-test" in err


@pytest.mark.slow
def test_bundle_run_matches_the_app_upload_path_and_writes_the_report(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """The demo bundle scores each excerpt exactly as Engine.profile(encode(upload))."""
    from apron_core.engine import Engine

    manifest, cache = _tone_manifest(tmp_path, rng)
    report = tmp_path / "out/real.md"
    lines: list[str] = []
    argv = ["--manifest", str(manifest), "--cache", str(cache), "--report", str(report)]
    assert rr.run(argv, out=lines.append) == 0
    payload = json.loads(report.with_suffix(".json").read_text())
    res, alone = payload["evaluations"]  # with the bundle's tag heads, then without
    assert res["name"] == "bundle assets/demo" and res["n"] == 2
    assert alone["name"] == "bundle assets/demo, grounding alone"
    engine = Engine.load("assets/demo", device="cpu")
    tone = cache / "root/usr/share/apron-test/tone.wav"
    song = engine.encode_upload(tone)  # the app's upload path, whole file
    for result, evidence in ((res, song.evidence[None]), (alone, None)):
        app = engine.profile(embeddings=song.embedding[None], evidence=evidence)
        top = np.argsort(-app, kind="stable")[:5]
        got = result["recordings"][0]["top"]
        assert [t for t, _ in got] == [engine.tag_names[i] for i in top]
        np.testing.assert_allclose([w for _, w in got], app[top], rtol=0, atol=1e-4)
    # The two-stem recording is the sum of its stems' excerpts.
    y = rr.excerpt(
        rr.load_manifest(manifest).recordings[1],
        [
            cache / "root/usr/share/apron-test/beat.wav",
            cache / "root/usr/share/apron-test/bass.wav",
        ],
        22050,
    )
    beat = load_audio(cache / "root/usr/share/apron-test/beat.wav", offset_s=1.0, duration_s=5.0)
    bass = load_audio(cache / "root/usr/share/apron-test/bass.wav", offset_s=1.0, duration_s=5.0)
    np.testing.assert_allclose(y, beat + bass, atol=1e-6)
    text = report.read_text()
    assert text.startswith("# Real recordings")
    assert f"Command: `python -m benchmarks.real_recordings {' '.join(argv)}`" in text
    assert "| tone | ambient; calm |" in text
    assert all(c in CATEGORIES for c in res["categories"])
    assert any(line.startswith("bundle assets/demo: hit@5") for line in lines)
