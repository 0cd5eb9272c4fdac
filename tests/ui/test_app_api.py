"""The running app through its HTTP API (gradio_client and raw HTTP): good calls work,
every bad input gets a clear error and the server keeps serving, and no file outside
the served folders can be read."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from apron_core.engine import Engine
from apron_core.tags import TAG_NAMES, K
from apron_core.ui import AppConfig, AppContext, create_app
from apron_core.ui.audio import AudioConfig
from apron_core.ui.state import MAX_JSON_BYTES, PROFILE_FORMAT

pytestmark = [
    pytest.mark.slow,  # starts a server; ~1 min
    pytest.mark.filterwarnings("ignore:::gradio.queueing"),  # Gradio's own pandas calls
]
ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "assets" / "demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    config = AppConfig(
        bundle_dir=BUNDLE,
        export_dir=root / "exports",
        audio=AudioConfig(cache_dir=root / "renders", cache_max_bytes=50_000_000),
    )
    ctx = AppContext.build(Engine.load(BUNDLE, device="cpu"), config)
    demo, options = create_app(ctx)
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options
    )
    yield {"url": f"http://127.0.0.1:{port}/", "ctx": ctx}
    demo.close()


@pytest.fixture
def client(server) -> Client:
    return Client(server["url"], verbose=False)


@pytest.fixture
def alive(server):
    """Call after a bad request: the server still answers a good one."""

    def check() -> None:
        out = Client(server["url"], verbose=False).predict([1.0] * K, [], 3, api_name="/recommend")
        assert len(out["song_ids"]) == 3

    return check


def _refused(client: Client, api_name: str, *args, match: str) -> str:
    with pytest.raises(AppError) as e:
        client.predict(*args, api_name=api_name)
    message = str(e.value)
    assert match.lower() in message.lower(), message
    assert "Traceback" not in message and 'File "' not in message
    return message


# --------------------------------------------------------------------------- good calls


def test_page_is_served(server):
    r = httpx.get(server["url"])
    assert r.status_code == 200 and "APRON Studio" in r.text
    assert httpx.get(server["url"] + "?p=%3Cscript%3E").status_code == 200


def test_listener_edit_and_share(client, server):
    ctx = server["ctx"]
    listener = next(iter(ctx.listeners))
    recs, radar, tagmix, steer, _history, selected = client.predict(listener, api_name="/listener")
    assert recs.count('<li class="song') == ctx.config.k and selected == listener
    categories = {"era", "genre", "mood", "instrumentation"}
    assert set(json.loads(radar)) == set(json.loads(tagmix)) == categories
    # the steering panel's payload: what every slider shows
    payload = json.loads(steer)
    assert set(payload["categories"]) == categories
    assert sum(payload["categories"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len(payload["within"]) == K and payload["locked"] == [] and payload["undo"] == 0
    recs2, _radar, _tagmix, steer2 = client.predict("rock", 70.0, api_name="/set_weight")
    assert "edited" in recs2 and recs2 != recs
    after = json.loads(steer2)
    assert after["categories"]["genre"] >= 0.7 and after["undo"] == 1
    rock = TAG_NAMES.index("rock")
    assert after["within"][rock] * after["categories"]["genre"] == pytest.approx(0.70, abs=1e-5)
    query = client.predict(api_name="/share")
    assert query.startswith("?p=")
    page = httpx.get(server["url"] + query)
    assert page.status_code == 200


def test_zero_boost_undo_redo_reset_locks(client, server):
    client.predict(next(iter(server["ctx"].listeners)), api_name="/listener")
    *_, steer = client.predict(["rock"], api_name="/locks")
    assert json.loads(steer)["locked"] == [TAG_NAMES.index("rock")]
    recs, *_ = client.predict("lo-fi", api_name="/zero")
    assert "edited" in recs
    client.predict("jazz", api_name="/boost")
    *_, steer = client.predict(api_name="/undo")
    assert json.loads(steer)["redo"] == 1
    *_, steer = client.predict(api_name="/redo")
    assert json.loads(steer)["redo"] == 0
    recs, _radar, _tagmix, steer = client.predict(api_name="/reset")
    assert "edited" not in recs and json.loads(steer)["locked"] == []
    recs, *_, echo = client.predict("more jazz, no 1980s", api_name="/command")
    assert "edited" in recs and "jazz ×2, no 1980s" in echo
    *_, echo = client.predict("more dubstep", api_name="/command")
    assert "dubstep" in echo and "nearest tags" in echo


def test_export_import_round_trip(client, server):
    client.predict(next(iter(server["ctx"].listeners)), api_name="/listener")
    client.predict("jazz", 33.0, api_name="/set_weight")
    path = client.predict(api_name="/export_profile")
    doc = json.loads(Path(path).read_text())
    assert doc["format"] == PROFILE_FORMAT
    assert doc["weights"]["jazz"] == pytest.approx(0.33, abs=1e-6)
    other = Client(server["url"], verbose=False)
    recs, *_ = other.predict(handle_file(path), api_name="/import_profile")
    assert recs.count('<li class="song') == server["ctx"].config.k


def test_build_profile_search_and_play(client, server, tmp_path):
    hits = client.predict("jazz", api_name="/search")
    assert hits is not None
    ids = list(server["ctx"].songs)[:3]
    recs, *_ = client.predict(ids, [], api_name="/build_profile")
    assert "your 3 catalog songs" in recs
    player = client.predict(ids[0], api_name="/play")
    url = urllib.parse.unquote(player.split('src="', 1)[1].split('"', 1)[0])
    audio = httpx.get(server["url"] + url)
    assert audio.status_code == 200 and audio.content[:4] == b"fLaC"


def test_upload_good_and_bad_audio(client, tmp_path):
    sr = 22050
    t = np.arange(4 * sr) / sr
    good = tmp_path / "tone.wav"
    sf.write(good, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"OggS" + bytes(range(256)) * 8)
    recs, *_ = client.predict(
        [], [handle_file(p) for p in (good, empty, junk)], api_name="/build_profile"
    )
    assert "1 upload" in recs
    assert "empty.wav" in recs and "junk.ogg" in recs  # refused files are named in the page


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "weights, exclude, k, match",
    [
        ([1.0] * (K - 1), [], 5, "80 numbers"),
        ([1.0] * (K + 5), [], 5, "80 numbers"),
        ([-1.0] + [1.0] * (K - 1), [], 5, "≥ 0"),
        ([1e300] * K, [], 5, "above"),
        ([0.0] * K, [], 5, "every profile weight is 0"),
        ([1.0] * K, ["S_nope", "../../etc/passwd"], 5, "unknown song id"),
        ([1.0] * K, [], 0, "k=0"),
        ([1.0] * K, [], 10**9, "k="),
    ],
)
def test_recommend_refuses(client, alive, weights, exclude, k, match):
    _refused(client, "/recommend", weights, exclude, k, match=match)
    alive()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_weights_over_raw_http(server, alive, value):
    """gradio_client refuses to send NaN; a raw JSON body can, and is refused too."""
    base = server["url"] + "gradio_api/call/recommend"
    body = '{"data": [[' + ", ".join([value] + ["1"] * (K - 1)) + "], [], 5]}"
    r = httpx.post(base, content=body, headers={"content-type": "application/json"})
    if r.status_code == 200:
        events = httpx.get(f"{base}/{r.json()['event_id']}", timeout=30).text
        assert "event: error" in events and "finite" in events
        assert "Traceback" not in events
    else:
        assert r.status_code in (400, 422)
    alive()


def test_history_and_profile_endpoint(client, alive):
    _refused(client, "/profile", [], match="history is empty")
    _refused(client, "/profile", ["S_unknown"], match="unknown song id")
    alive()


@pytest.mark.parametrize(
    "tag, value, match",
    [
        ("rock", 101.0, "above 100"),
        ("rock", -3.0, "negative"),
        ("rock", 1e308, "above 100"),
        ("no-such-tag", 10.0, "unknown tag"),
        ("", 10.0, "choose a tag"),
    ],
)
def test_set_weight_refuses(client, server, alive, tag, value, match):
    client.predict(next(iter(server["ctx"].listeners)), api_name="/listener")
    _refused(client, "/set_weight", tag, value, match=match)
    alive()


def test_edit_before_any_profile(server, alive):
    fresh = Client(server["url"], verbose=False)
    _refused(fresh, "/set_weight", "rock", 10.0, match="no profile yet")
    _refused(fresh, "/export_profile", match="no profile")
    _refused(fresh, "/share", match="no profile")
    alive()


@pytest.mark.parametrize("listener", ["U_unknown", "<img src=x onerror=alert(1)>", ""])
def test_unknown_listener_is_refused_and_escaped(client, alive, listener):
    message = _refused(client, "/listener", listener, match="unknown demo listener")
    assert "<img" not in message
    alive()


@pytest.mark.parametrize("song", ["S_nope", "../../etc/passwd", "/etc/passwd", "%2e%2e/x"])
def test_play_refuses(client, alive, song):
    _refused(client, "/play", song, match="unknown song id")
    alive()


def test_build_profile_refuses(client, alive, tmp_path):
    _refused(client, "/build_profile", [], [], match="pick at least one song")
    _refused(client, "/build_profile", ["S_nope"], [], match="unknown song")
    empty = tmp_path / "silence.wav"
    sf.write(empty, np.zeros(22050 * 3, dtype=np.float32), 22050)
    zero = tmp_path / "zero.mp3"
    zero.write_bytes(b"")
    _refused(
        client,
        "/build_profile",
        [],
        [handle_file(empty), handle_file(zero)],
        match="none of the uploaded files",
    )
    many = []
    for i in range(11):
        p = tmp_path / f"t{i}.wav"
        sf.write(p, np.full(22050, 0.1, dtype=np.float32), 22050)
        many.append(handle_file(p))
    _refused(client, "/build_profile", [], many, match="the limit is 10")
    alive()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"{broken", "not valid JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "not valid JSON"),
        (b" " * (MAX_JSON_BYTES + 100), "more than"),
        (json.dumps({"format": "x"}).encode(), "not an APRON"),
        (b'{"format": "apron-studio-profile", "version": 1, "weights": {"rock": NaN}}', "finite"),
        (json.dumps({"format": PROFILE_FORMAT, "version": 1, "weights": {"r": 1}}).encode(), "'r'"),
    ],
)
def test_import_refuses(client, alive, tmp_path, content, match):
    path = tmp_path / "profile.json"
    path.write_bytes(content)
    _refused(client, "/import_profile", handle_file(path), match=match)
    alive()


# --------------------------------------------------------------------------- files


def _get(server, path: str) -> int:
    return httpx.get(server["url"].rstrip("/") + path).status_code


def test_served_files_stay_inside_the_served_folders(server):
    ctx = server["ctx"]
    clip = next(iter(ctx.clips.values()))
    assert _get(server, f"/gradio_api/file={clip}") == 200
    proto = ctx.prototype_dir
    secrets = [
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "app.py",
        str(ROOT / "app.py"),
        str(BUNDLE / "model.safetensors"),
        f"{proto}/../demo/model.safetensors",
        f"{proto}/..%2Fdemo%2Fbundle.json",
        f"{proto}/%2e%2e/demo/bundle.json",
        f"{ctx.audio.folder}/../../../../etc/passwd",
        str(Path(httpx.__file__)),
    ]
    for path in secrets:
        assert _get(server, f"/gradio_api/file={path}") in (403, 404), path
    assert _get(server, "/file=/etc/passwd") in (403, 404)
    assert _get(server, "/static/../../../../etc/passwd") in (403, 404)


def test_cli_help_and_bad_bundle(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "--bundle" in out.stdout and "--share" in out.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--bundle", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "bundle.json" in bad.stderr and "Traceback" not in bad.stderr
    port = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert port.returncode != 0 and "--port" in port.stderr
