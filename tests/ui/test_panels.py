"""The page's wiring, read from the Blocks config Gradio sends to the browser (no
server, no browser): the steering panel's edits are small unqueued events that carry
their slider in the event's data, every event that changes the profile writes the same
view (sliders included), and the handlers the panels bind do what the handlers do."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from apron_core.engine import Engine
from apron_core.tags import TAG_NAMES, K, category_indices
from apron_core.ui import AppConfig, AppContext, build_app
from apron_core.ui import handlers as h
from apron_core.ui.audio import AudioConfig
from apron_core.ui.prototypes_panel import STEER_JS, clip_map, steer_js, tag_slug
from apron_core.ui.scale import KNEE, within_shares
from apron_core.ui.state import Session

BUNDLE = Path(__file__).resolve().parents[2] / "assets" / "demo"
NAMED = {
    "listener",
    "search",
    "build_profile",
    "command",
    "zero",
    "boost",
    "locks",
    "undo",
    "redo",
    "reset",
    "export_profile",
    "import_profile",
    "share",
    "set_weight",
    "play",
    "recommend",
    "profile",
}
STEER_EVENTS = ("steer", "lock", "undo", "redo", "reset")


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
def demo(ctx) -> gr.Blocks:
    return build_app(ctx)


@pytest.fixture(scope="module")
def config(demo) -> dict:
    return demo.get_config_file()


def _ids(config: dict) -> dict[str, int]:
    """elem_id → component id (and 'state' → the session's gr.State)."""
    out = {}
    for c in config["components"]:
        props = c.get("props", {})
        if props.get("elem_id"):
            out[props["elem_id"]] = c["id"]
        if c.get("type") == "state":
            out["state"] = c["id"]
    return out


def _view_ids(config: dict) -> list[int]:
    ids = _ids(config)
    return [ids["state"], ids["recs"], ids["radar"], ids["tagmix"], ids["steer"]]


def _event(config: dict, elem_id: str, event: str) -> dict:
    target = _ids(config)[elem_id]
    deps = [d for d in config["dependencies"] if [target, event] in map(list, d["targets"])]
    assert len(deps) == 1, deps
    return deps[0]


def test_each_steering_edit_is_a_small_unqueued_event(config):
    ids = _ids(config)
    for name in STEER_EVENTS:
        dep = _event(config, "steer", name)
        assert dep["inputs"] == [ids["state"]]  # the slider and its value travel as event data
        assert dep["outputs"] == _view_ids(config)
        assert dep["queue"] is False and dep["trigger_mode"] == "always_last"
        assert dep["show_progress"] == "hidden"
    typed = _event(config, "command", "submit")
    assert typed["inputs"] == [ids["state"], ids["command"]] and typed["queue"] is False
    assert typed["outputs"] == [*_view_ids(config), ids["command-echo"]]


def test_no_slider_is_a_component_of_its_own(config):
    """The 80 sliders live inside one panel (no gr.Slider, no event per slider)."""
    assert not [c for c in config["components"] if c.get("type") == "slider"]
    assert len(config["dependencies"]) < 40


def test_every_event_that_changes_the_profile_writes_the_whole_view(config):
    ids = _ids(config)
    drawing = [d for d in config["dependencies"] if ids["radar"] in d["outputs"]]
    for dep in drawing:
        assert dep["outputs"][:5] == _view_ids(config), dep["api_name"]
    assert {d["api_name"] for d in drawing} == {
        "first_profile",  # the page's load
        "listener",
        "build_profile",
        "import_profile",
        "set_weight",
        "locks",
        "zero",
        "boost",
        "command",
        "steer",
        "lock",
        "undo",
        "redo",
        "reset",
    }


def test_named_endpoints(config):
    named = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "public"}
    assert named == NAMED


def test_a_slider_event_edits_that_tag_only(demo, config, ctx):
    fn = demo.fns[_event(config, "steer", "steer")["id"]].fn
    session = h.start_listener(ctx, h.default_listener(ctx)).view.session
    jazz = TAG_NAMES.index("jazz")
    out = fn(session, gr.EventData(None, {"kind": "tag", "tag": jazz, "percent": 30.0}))
    new, recs, radar, tagmix, steer = out
    assert within_shares(new.profile)[jazz] == pytest.approx(0.30)
    others = [i for i in range(K) if i not in category_indices("genre")]
    np.testing.assert_array_equal(new.profile[others], session.profile[others])
    payload = json.loads(steer)
    assert payload["within"][jazz] == pytest.approx(0.30) and payload["undo"] == 1
    assert '<li class="song' in recs
    assert json.loads(radar)["profile"] == json.loads(tagmix)["profile"]
    np.testing.assert_allclose(json.loads(radar)["profile"], payload["within"], atol=2e-6)
    refused = fn(new, gr.EventData(None, {"kind": "tag", "tag": jazz, "percent": 130.0}))
    np.testing.assert_array_equal(refused[0].profile, new.profile)
    assert "above 100" in refused[1] and 'class="edit-note"' in refused[1]
    junk = fn(new, gr.EventData(None, "not a dict"))  # said in the list, never raised
    assert "unknown slider kind" in junk[1]
    with pytest.raises(gr.Error, match="no profile yet"):
        fn(Session(), gr.EventData(None, {"kind": "tag", "tag": jazz, "percent": 30.0}))


def test_undo_with_nothing_to_undo_is_said_in_the_list(demo, config, ctx):
    fn = demo.fns[_event(config, "steer", "undo")["id"]].fn
    session = h.start_listener(ctx, h.default_listener(ctx)).view.session
    out = fn(session)
    assert "nothing to undo" in out[1]
    np.testing.assert_array_equal(out[0].profile, session.profile)


def test_the_page_script_gets_the_scale_and_the_clips(ctx):
    js = steer_js(ctx)
    assert "__" + "KNEE__" not in js and f"KNEE = {json.dumps(KNEE)}" in js
    clips = clip_map(ctx)
    assert len(clips) == K
    tag, url, source, song = clips[tag_slug("lo-fi")]
    proto = next(p for p in ctx.engine.bundle.prototypes if p.tag == "lo-fi")
    assert tag == "lo-fi" and url.endswith(proto.file) and song == proto.song_id
    assert ctx.songs[song].title in source and proto.song_id in source  # "cut from …"
    assert "</script" not in js.lower()
    assert STEER_JS.is_file()
