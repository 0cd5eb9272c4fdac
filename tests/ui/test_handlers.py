"""The app's handlers as plain functions, on the shipped demo bundle: every number they
send to the page must be the engine's, and every bad input a clear DataError/AudioError."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from apron_core.engine import Engine
from apron_core.errors import AudioError, DataError
from apron_core.tags import CATEGORIES, TAG_NAMES, K, category_indices
from apron_core.ui import AppConfig, AppContext
from apron_core.ui import handlers as h
from apron_core.ui import state as st
from apron_core.ui.audio import AudioConfig, encode_uploads, prototype_clips
from apron_core.ui.errors import INTERNAL_MESSAGE, handle_errors
from apron_core.ui.files import inside
from apron_core.ui.song_lists import (
    SongInfo,
    diff_lists,
    played_song,
    render_history,
    render_recommendations,
)

BUNDLE = Path(__file__).resolve().parents[2] / "assets" / "demo"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> AppContext:
    root = tmp_path_factory.mktemp("app")
    config = AppConfig(
        bundle_dir=BUNDLE,
        export_dir=root / "exports",
        audio=AudioConfig(cache_dir=root / "renders", cache_max_bytes=50_000_000),
    )
    return AppContext.build(Engine.load(BUNDLE, device="cpu"), config)


@pytest.fixture(scope="module")
def start(ctx) -> h.Start:
    return h.start_listener(ctx, h.default_listener(ctx))


def _rec_ids(recs_html: str) -> list[str]:
    return re.findall(r'<li class="song [a-z]+" data-song="([^"]+)"', recs_html)


# --------------------------------------------------------------------------- a listener


def test_start_listener_shows_the_engines_numbers(ctx, start):
    listener = ctx.listeners[h.default_listener(ctx)]
    session = start.view.session
    expected = ctx.engine.profile(listener.history)
    np.testing.assert_allclose(session.profile, expected)
    np.testing.assert_allclose(session.inferred, expected)
    rec = ctx.engine.recommend(expected, k=ctx.config.k, exclude=listener.history)
    assert _rec_ids(start.view.recs_html) == rec.song_ids
    assert session.last_recs == tuple(rec.song_ids)
    # the 'because' lines are the engine's explanations
    for e in rec.explanations[:5]:
        assert html.escape(e.text) in start.view.recs_html
    # charts: profile and tag mix as each tag's share of its category (the page puts
    # them on the sliders' track: test_browser_steering's chart test)
    radar, tagmix = start.view.radar, start.view.tagmix
    for c in CATEGORIES:
        idx = category_indices(c)
        share = expected[idx] / expected[idx].sum()
        np.testing.assert_allclose(np.array(radar["profile"])[idx], share, atol=1e-6)
        np.testing.assert_allclose(np.array(radar["inferred"])[idx], share, atol=1e-6)
        mix_share = rec.tag_mix[idx] / rec.tag_mix[idx].sum()
        np.testing.assert_allclose(np.array(tagmix["mix"])[idx], mix_share, atol=1e-6)
    assert tagmix["before"] is None and tagmix["k"] == ctx.config.k
    # the history panel lists every history song with a play button
    for sid in listener.history:
        assert f'data-song="{sid}"' in start.history_html
    assert start.listener_id == listener.listener_id


def test_first_list_has_no_change_markers(start):
    assert 'data-status="new"' not in start.view.recs_html
    assert "Left the list" not in start.view.recs_html


@pytest.mark.parametrize("bad", ["U_nope", "", None, 3, "<b>x</b>"])
def test_unknown_listener(ctx, bad):
    with pytest.raises(DataError, match="unknown demo listener"):
        h.start_listener(ctx, bad)


# --------------------------------------------------------------------------- slider edits


def test_set_weight_edits_and_marks_changes(ctx, start):
    session = start.view.session
    rock = TAG_NAMES.index("rock")
    view = h.set_weight(ctx, session, rock, 60.0)
    p = view.session.profile
    assert p[rock] == pytest.approx(0.60)
    others = np.arange(K) != rock
    np.testing.assert_allclose(
        p[others], session.profile[others] * 0.4 / session.profile[others].sum()
    )
    new_ids = _rec_ids(view.recs_html)
    assert new_ids == ctx.engine.recommend(p, k=20, exclude=session.history).song_ids
    changes = diff_lists(session.last_recs, new_ids)
    assert changes.entered and changes.left  # a 60 % rock listener gets other songs
    for sid in changes.entered:
        assert f'data-song="{sid}" data-status="new"' in view.recs_html
    assert "Left the list" in view.recs_html
    for sid in changes.left:
        assert f'class="left-song" data-song="{sid}"' in view.recs_html
    assert "edited" in view.recs_html
    assert st.to_percent(p)[rock] == 60.0  # what the page's slider will show


def test_set_weight_by_name_equals_by_index(ctx, start):
    a = h.set_weight(ctx, start.view.session, "jazz", 25.0)
    b = h.set_weight(ctx, start.view.session, TAG_NAMES.index("jazz"), 25.0)
    np.testing.assert_array_equal(a.session.profile, b.session.profile)


def test_set_weight_without_change_returns_none(ctx, start):
    s = start.view.session
    shown = float(st.to_percent(s.profile)[0])
    assert h.set_weight(ctx, s, 0, shown) is None
    assert h.set_weight(ctx, s, "1950s", shown + st.STEP_PCT / 4) is None  # below half a step
    assert h.set_weight(ctx, s, 0, shown + st.STEP_PCT) is not None


@pytest.mark.parametrize(
    "tag, value, fragment",
    [
        ("rock", float("nan"), "finite"),
        ("rock", float("inf"), "finite"),
        ("rock", -1.0, "negative"),
        ("rock", 100.5, "above 100"),
        ("rock", 1e308, "above 100"),
        ("rock", "12", "not a number"),
        ("rock", None, "not a number"),
        ("rock", True, "not a number"),
        ("rokk", 10.0, "unknown tag"),
        (K, 10.0, "out of range"),
        (-1, 10.0, "out of range"),
        (1.5, 10.0, "tag name or index"),
        ("", 10.0, "choose a tag"),
    ],
)
def test_set_weight_refuses_bad_input(ctx, start, tag, value, fragment):
    with pytest.raises(DataError, match=fragment):
        h.set_weight(ctx, start.view.session, tag, value)


def test_edits_need_a_profile(ctx):
    with pytest.raises(DataError, match="no profile yet"):
        h.set_weight(ctx, st.Session(), 0, 10.0)
    with pytest.raises(DataError, match="no profile yet"):
        h.zero(ctx, st.Session(), "rock")


def test_set_weight_names_the_tag_in_its_message(ctx, start):
    with pytest.raises(DataError, match=r"slider value of 'jazz' \(-2\) is negative"):
        h.set_weight(ctx, start.view.session, "jazz", -2)


def test_a_refused_slider_keeps_the_profile_and_says_why(ctx):
    start = h.page_load(ctx, st.encode_share(np.eye(K)[TAG_NAMES.index("jazz")]))
    s = start.view.session
    jazz = TAG_NAMES.index("jazz")
    view = h.steer(ctx, s, {"kind": "tag", "tag": jazz, "percent": 0.0})
    np.testing.assert_array_equal(view.session.profile, s.profile)
    assert view.notes and "every weight at 0" in view.notes[0]
    assert "edit-note" in view.recs_html and "every weight at 0" in view.recs_html
    assert view.session.undo == ()  # a refused edit is no step of the history
    with pytest.raises(DataError, match="every weight at 0"):  # the API still refuses
        h.set_weight(ctx, s, "jazz", 0.0)
    same = h.steer(ctx, s, {"kind": "tag", "tag": jazz, "percent": 100.0})  # where it is
    np.testing.assert_array_equal(same.session.profile, s.profile) and not same.notes
    era = h.steer(ctx, s, {"kind": "category", "category": "era", "percent": 25.0})
    assert era.session.profile[category_indices("era")].sum() == pytest.approx(0.25)
    assert era.session.profile[jazz] == pytest.approx(0.75)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (None, "carries no value"),
        ({"kind": "volume"}, "unknown slider kind"),
        ({"kind": "tag", "tag": 999, "percent": 5}, "out of range"),
        ({"kind": "tag", "tag": "jaz", "percent": 5}, "unknown tag"),
        ({"kind": "tag", "tag": 2.5, "percent": 5}, "tag name or index"),
        ({"kind": "tag", "tag": 3, "percent": "5"}, "not a number"),
        ({"kind": "tag", "tag": 3, "percent": None}, "not a number"),
        ({"kind": "tag", "tag": 3, "percent": 101}, "above 100"),
        ({"kind": "category", "category": "<b>x</b>", "percent": 5}, "unknown category"),
        ({"kind": "category", "category": "era", "percent": -1}, "negative"),
    ],
)
def test_a_bad_slider_event_is_named_in_the_list(ctx, start, data, fragment):
    view = h.steer(ctx, start.view.session, data)
    np.testing.assert_array_equal(view.session.profile, start.view.session.profile)
    assert re.search(fragment, view.notes[0])


def test_undo_redo_and_reset_are_history_steps(ctx, start):
    s0 = start.view.session
    s1 = h.steer(ctx, s0, {"kind": "tag", "tag": TAG_NAMES.index("jazz"), "percent": 40}).session
    s2 = h.boost(ctx, s1, "piano").session
    s3 = h.reset(ctx, s2).session
    np.testing.assert_array_equal(s3.profile, s0.inferred)
    back = h.undo(ctx, h.undo(ctx, h.undo(ctx, s3).session).session).session
    np.testing.assert_array_equal(back.profile, s0.profile)
    again = h.redo(ctx, h.redo(ctx, back).session).session
    np.testing.assert_array_equal(again.profile, s2.profile)
    with pytest.raises(DataError, match="nothing to undo"):
        h.undo(ctx, back)
    noted = h.noted(ctx, back, h.undo)  # the page's event: said in the list, not raised
    assert "nothing to undo" in noted.notes[0]
    locked = h.toggle_lock(ctx, s1, {"tag": 3}).session
    assert locked.locked == {3} and h.undo(ctx, locked).session.locked == frozenset()


def test_typed_commands(ctx, start):
    s = start.view.session
    typed = h.command(ctx, s, "more jazz, no 1980s")
    assert typed.ok and typed.echo == "Understood: jazz ×2, no 1980s."
    p = typed.view.session.profile
    assert p[TAG_NAMES.index("1980s")] == 0 and p[TAG_NAMES.index("jazz")] > s.profile[10]
    assert len(typed.view.session.undo) == 1  # one edit, one undo step
    refused = h.command(ctx, s, "more dubstep")
    assert not refused.ok and refused.view is None and "nearest tags" in refused.echo
    assert h.command(ctx, typed.view.session, "undo").view.session.undo == ()
    fixed = h.command(ctx, s, "more jaz")
    assert fixed.ok and "'jaz' read as jazz" in fixed.echo


def test_locks_hold_while_another_tag_moves(ctx, start):
    session = h.set_locks(start.view.session, ["lo-fi", "2010s"])
    locked = [TAG_NAMES.index("lo-fi"), TAG_NAMES.index("2010s")]
    view = h.set_weight(ctx, session, "jazz", 40.0)
    assert view.session.profile[locked] == pytest.approx(session.profile[locked])
    assert view.session.profile[TAG_NAMES.index("jazz")] == pytest.approx(0.40)
    with pytest.raises(DataError, match="unknown tag"):
        h.set_locks(session, ["nope"])


def test_zero_boost_and_reset(ctx, start):
    s = start.view.session
    t = int(np.argmax(s.profile))
    zeroed = h.zero(ctx, s, TAG_NAMES[t])
    assert zeroed.session.profile[t] == 0
    assert zeroed.session.profile.sum() == pytest.approx(1.0)
    boosted = h.boost(ctx, s, "jazz")
    assert boosted.session.profile[TAG_NAMES.index("jazz")] > s.profile[TAG_NAMES.index("jazz")]
    locked = replace(zeroed.session, locked=frozenset({1}))
    back = h.reset(ctx, locked)
    np.testing.assert_allclose(back.session.profile, s.inferred)
    assert back.session.locked == frozenset()
    with pytest.raises(DataError, match="choose a tag"):
        h.zero(ctx, s, None)


def test_reset_needs_an_inferred_profile(ctx, start):
    never_inferred = replace(start.view.session, inferred=None)
    with pytest.raises(DataError, match="never inferred"):
        h.reset(ctx, never_inferred)


def test_locked_overflow_note_reaches_the_list(ctx, start):
    s = h.set_locks(start.view.session, ["rock"])
    s = h.set_weight(ctx, s, "rock", 90.0).session
    view = h.set_weight(ctx, s, "jazz", 50.0)  # 90 % locked + 50 % moved cannot fit
    assert view.notes and "edit-note" in view.recs_html
    assert view.session.profile[TAG_NAMES.index("rock")] == pytest.approx(0.9)
    assert view.session.profile.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- new profiles


def test_search_catalog(ctx):
    sid, info = next(iter(ctx.songs.items()))
    hits = h.search_catalog(ctx, info.title.split()[0])
    assert sid in [v for _, v in hits] and len(hits) <= ctx.config.search_limit
    by_tag = [v for _, v in h.search_catalog(ctx, "jazz piano")]
    assert by_tag
    for v in by_tag:  # every word matches the title, artist, year, id or a tag
        info = ctx.songs[v]
        text = " ".join([v, info.title, info.artist, str(info.year), *info.tags]).lower()
        assert "jazz" in text and "piano" in text
    tagged = [s for s, i in ctx.songs.items() if {"jazz", "piano"} <= set(i.tags)]
    assert tagged and tagged[0] in by_tag  # matches come in catalog order
    assert h.search_catalog(ctx, "   ") == []
    assert h.search_catalog(ctx, "zzzz-no-such-song") == []
    with pytest.raises(DataError, match=r"\(10,000 characters\) is longer than 100"):
        h.search_catalog(ctx, "x" * 10_000)  # named, quoted short, not cut silently
    with pytest.raises(DataError):
        h.search_catalog(ctx, None)


def _wav(path: Path, seconds: float, sr: int = 22050, silent: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = (
        0.0 * t
        if silent
        else 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    )
    sf.write(path, y.astype(np.float32), sr)
    return path


def test_add_songs_keeps_order_and_drops_repeats(ctx):
    a, b, c = list(ctx.songs)[:3]
    added = h.add_songs(ctx, [a, b], [b, c])
    assert [sid for _, sid in added] == [a, b, c]
    assert added[0][0] == h.song_label(ctx, a) and ctx.songs[a].title in added[0][0]
    assert h.add_songs(ctx, None, None) == []
    with pytest.raises(DataError, match="S_nope"):
        h.add_songs(ctx, [a], ["S_nope"])


def test_build_profile_from_songs(ctx):
    picked = list(ctx.songs)[:5]
    start = h.build_profile(ctx, picked, None)
    np.testing.assert_allclose(start.view.session.profile, ctx.engine.profile(picked))
    assert start.view.session.history == tuple(picked)
    assert start.listener_id is None
    assert not set(picked) & set(_rec_ids(start.view.recs_html))  # history excluded
    assert "encoder" not in start.history_html  # no upload: no encoder to name


@pytest.mark.parametrize(
    "picked, fragment",
    [
        ([], "pick at least one song"),
        (None, "pick at least one song"),
        (["S_nope"], "unknown song"),
    ],
)
def test_build_profile_refuses(ctx, picked, fragment):
    with pytest.raises(DataError, match=fragment):
        h.build_profile(ctx, picked, [])


def test_build_profile_with_uploads_skips_bad_files(ctx, tmp_path):
    good = _wav(tmp_path / "tone.wav", 5.0)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio at all")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + np.random.default_rng(1).bytes(4000))
    silent = _wav(tmp_path / "silence.wav", 3.0, silent=True)
    files = [str(p) for p in (good, empty, text, corrupt, silent)]
    start = h.build_profile(ctx, [], files)
    song = ctx.engine.encode_upload(good)
    assert song.evidence is not None  # the shipped bundle hears uploads with tag heads too
    expected = ctx.engine.profile([], embeddings=song.embedding[None], evidence=song.evidence)
    np.testing.assert_allclose(start.view.session.profile, expected)
    notes = " ".join(start.view.notes)
    for name in ("empty.wav", "notes.mp3", "corrupt.flac", "silence.wav"):
        assert name in notes
    assert str(tmp_path) not in notes  # the server's folders stay private
    assert "tone.wav" in start.history_html and "1 upload" in start.view.session.source
    # the visitor is told which encoder understood their audio
    assert html.escape(ctx.engine.bundle.encoder.describe()) in start.history_html
    assert "MagnaTagATune tag heads" in start.history_html


def test_build_profile_with_only_bad_uploads(ctx, tmp_path):
    empty = tmp_path / "a.wav"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"none of the uploaded files.*a\.wav.*empty"):
        h.build_profile(ctx, None, [str(empty)])


def test_two_hour_upload_is_refused_quickly(ctx, tmp_path):
    path = tmp_path / "long.flac"
    sr = 8000
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="FLAC") as f:
        block = np.zeros(sr * 600, dtype=np.int16)
        for _ in range(12):  # 2 hours of digital silence, a few kB as FLAC
            f.write(block)
    enc = encode_uploads([path], ctx.engine.encode, ctx.config.audio)
    assert enc.embeddings is None
    assert "long.flac" in enc.problems[0] and "limit" in enc.problems[0]


def test_too_many_uploads(ctx, tmp_path):
    paths = [str(_wav(tmp_path / f"{i}.wav", 1.5, seed=i)) for i in range(11)]
    with pytest.raises(DataError, match="11 files uploaded; the limit is 10"):
        h.build_profile(ctx, [], paths)


def test_oversized_upload(ctx, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 2048)
    tiny = replace(ctx.config.audio, max_upload_bytes=1024)
    enc = encode_uploads([big], ctx.engine.encode, tiny)
    assert "over the" in enc.problems[0]


# --------------------------------------------------------------------------- links and files


def test_share_link_round_trip(ctx, start):
    s = h.set_locks(h.set_weight(ctx, start.view.session, "jazz", 30.0).session, ["jazz"])
    query = h.share_query(s)
    assert query.startswith("?p=")
    loaded = h.page_load(ctx, query[3:])
    np.testing.assert_allclose(loaded.view.session.profile, s.profile, atol=1e-4)
    assert loaded.view.session.locked == {TAG_NAMES.index("jazz")}
    assert loaded.listener_id is None and loaded.view.notes == ()


@pytest.mark.parametrize("code", ["garbage!!", "AQ", "<script>alert(1)</script>", "A" * 5000])
def test_tampered_link_falls_back_to_the_default(ctx, code):
    loaded = h.page_load(ctx, code)
    assert loaded.listener_id == h.default_listener(ctx)
    assert "shared link" in loaded.view.notes[0]
    assert "<script>" not in loaded.view.recs_html


def test_page_load_without_link(ctx):
    assert h.page_load(ctx, None).listener_id == h.default_listener(ctx)


def test_export_import_round_trip(ctx, start):
    s = h.set_locks(h.zero(ctx, start.view.session, "lo-fi").session, ["rock"])
    path = h.export_profile(ctx, s)
    assert inside(path, ctx.config.export_dir) and path.suffix == ".json"
    loaded = h.import_profile(ctx, str(path))
    np.testing.assert_allclose(loaded.view.session.profile, s.profile, atol=1e-5)
    np.testing.assert_allclose(loaded.view.session.inferred, s.inferred)  # re-inferred
    assert loaded.view.session.locked == {TAG_NAMES.index("rock")}
    assert loaded.view.session.history == s.history


def test_import_refuses_bad_files(ctx, tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (st.MAX_JSON_BYTES + 10))
    with pytest.raises(DataError, match="more than"):
        h.import_profile(ctx, str(big))
    unknown = tmp_path / "unknown.json"
    doc = {"format": st.PROFILE_FORMAT, "version": 1, "weights": {"rock": 1}, "history": ["S_x"]}
    unknown.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="unknown song"):
        h.import_profile(ctx, str(unknown))
    with pytest.raises(DataError, match="choose a profile file"):
        h.import_profile(ctx, None)


# --------------------------------------------------------------------------- audio


def test_play_renders_into_the_cache(ctx, start):
    sid = start.view.session.last_recs[0]
    player = h.play(ctx, sid)
    url = re.search(r'src="([^"]+)"', player).group(1)
    path = Path(url.split("file=", 1)[1].replace("%20", " "))
    assert path.is_file() and inside(path, ctx.audio.folder)
    y, sr = sf.read(path)
    assert sr == 22050 and len(y) > sr and np.abs(y).max() > 0.01


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "S99999", "", None, 42])
def test_play_refuses_anything_but_a_catalog_id(ctx, bad):
    with pytest.raises(DataError, match="unknown song id"):
        h.play(ctx, bad)


def test_prototype_clips_stay_in_their_folder(ctx, tmp_path):
    assert len(ctx.clips) == K
    assert all(inside(p, ctx.prototype_dir) for p in ctx.clips.values())
    outside = tmp_path / "secret.ogg"
    outside.write_bytes(b"x")
    tampered = [replace(ctx.engine.bundle.prototypes[0], file=f"../../../../{outside}")]
    assert prototype_clips(tampered, ctx.prototype_dir) == {}


def test_play_event_names_its_song():
    assert played_song(gr.EventData(None, {"song_id": "S00001"})) == "S00001"
    for payload in (None, 3.5, {}, {"song_id": 7}, "S00001"):
        with pytest.raises(DataError, match="names no song"):
            played_song(gr.EventData(None, payload))


def test_profile_api_is_the_engines(ctx):
    ids = list(ctx.songs)[:4]
    out = h.profile_api(ctx, ids)
    assert all(type(v) is float for v in out) and len(out) == K
    np.testing.assert_allclose(out, ctx.engine.profile(ids))


def test_recommend_api(ctx):
    out = h.recommend_api(ctx, [1.0] * K, [], 5)
    assert len(out["song_ids"]) == 5 and len(out["because"]) == 5
    with pytest.raises(DataError):
        h.recommend_api(ctx, [1.0] * 79, [], 5)
    with pytest.raises(DataError, match="unknown song"):
        h.recommend_api(ctx, [1.0] * K, ["nope"], 5)


# --------------------------------------------------------------------------- rendering and errors


def test_lists_escape_catalog_text():
    songs = {
        "S1": SongInfo(title="<img src=x onerror=alert(1)>", artist="A&B", year=1999, tags=("<b>",))
    }
    out = render_recommendations(
        ["S1"], ["because <i>"], songs, diff_lists([], ["S1"]), heading="<h1>", notes=["<script>"]
    )
    out += render_history(["S1"], songs, heading="<x>", extra=["<evil>.wav"])
    assert "<img" not in out and "<script>" not in out and "<b>" not in out
    assert "&lt;img" in out and "A&amp;B" in out


def test_error_decorator():
    @handle_errors
    def refuses():
        raise DataError("bad <value>")

    with pytest.raises(gr.Error) as e:
        refuses()
    assert e.value.message == "bad &lt;value&gt;" and e.value.title == "Invalid input"

    @handle_errors
    def crashes():
        raise RuntimeError("secret internals /etc/shadow")

    with pytest.raises(gr.Error) as e:
        crashes()
    assert "secret" not in e.value.message and "Traceback" not in e.value.message
    assert e.value.message.startswith(INTERNAL_MESSAGE.split("{")[0])

    @handle_errors
    def audio():
        raise AudioError("file is silent")

    with pytest.raises(gr.Error, match="silent"):
        audio()


def test_error_decorator_logs_unexpected(caplog):
    @handle_errors
    def crashes():
        raise KeyError("boom")

    with caplog.at_level(logging.ERROR, logger="apron_studio"), pytest.raises(gr.Error) as e:
        crashes()
    ref = re.search(r"reference (\w+)", e.value.message).group(1)
    assert ref in caplog.text and "KeyError" in caplog.text
