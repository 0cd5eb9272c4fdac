import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from apron_core import prototypes
from apron_core.audio import load_audio
from apron_core.errors import ConfigError, DataError
from apron_core.tags import TAG_NAMES


def _songs(rng):
    """Three songs per tag: a popular impure one, a less popular pure one, and a filler."""
    rows, plays = [], {}
    for k, tag in enumerate(TAG_NAMES):
        other = TAG_NAMES[(k + 1) % 80]
        rows.append({"song_id": f"hit{k}", "tags": [tag, other]})
        rows.append({"song_id": f"pure{k}", "tags": [tag]})
        rows.append({"song_id": f"fill{k}", "tags": [tag]})
        plays[f"hit{k}"], plays[f"pure{k}"], plays[f"fill{k}"] = 100, 50, 1
    songs = pd.DataFrame(rows)
    emb = rng.normal(size=(len(songs), 8))
    return songs, pd.Series(plays), emb


def test_most_listened_picks_the_top_song(rng):
    songs, plays, _ = _songs(rng)
    chosen = prototypes.select_most_listened(songs, plays)
    assert [p.tag for p in chosen] == list(TAG_NAMES)
    # the tag's own hit (100 plays) or the neighbour's hit, which also carries it; ties → id order
    assert all(p.plays == 100 for p in chosen)
    assert chosen[5].song_id == "hit4"  # hit4 carries tag 5 too and sorts before hit5
    assert chosen[0].start_s == 0.0 and chosen[0].duration_s == 0.0  # the data places clips


def test_purity_aware_prefers_pure_songs_and_distinct_ones(rng):
    songs, plays, emb = _songs(rng)
    chosen = prototypes.select_purity_aware(songs, plays, emb)
    ids = [p.song_id for p in chosen]
    assert len(set(ids)) == 80
    # same-category neighbours make the hits impure, except across category borders
    tag = TAG_NAMES.index("jazz")
    assert chosen[tag].song_id in {f"pure{tag}", f"fill{tag}"}
    assert chosen[tag].song_id == f"pure{tag}" or plays[chosen[tag].song_id] < 50


def test_selection_errors(rng):
    songs, plays, _ = _songs(rng)
    with pytest.raises(DataError, match="no song carries"):
        no_1950s = songs[~songs["tags"].map(lambda ts: "1950s" in ts)]
        prototypes.select_most_listened(no_1950s, plays)
    with pytest.raises(DataError, match="3 embeddings for 240 songs"):
        prototypes.select_purity_aware(songs, plays, np.zeros((3, 8)))


def test_export_round_trip(tmp_path, rng):
    songs, plays, _ = _songs(rng)
    chosen = [
        dataclasses.replace(p, start_s=1.5, duration_s=1.0)
        for p in prototypes.select_most_listened(songs, plays)
    ]
    sr = 22050
    t = np.arange(sr) / sr

    def clip(p):
        return (0.3 * np.sin(2 * np.pi * (200 + 10 * TAG_NAMES.index(p.tag)) * t)).astype("float32")

    path = prototypes.export_prototypes(chosen, tmp_path, clip, sr=sr, extra={"world_seed": 0})
    loaded = prototypes.load_prototypes(tmp_path)
    assert loaded == chosen
    y = load_audio(tmp_path / loaded[8].file, sr=sr)
    assert abs(len(y) - sr) < 0.01 * sr
    assert json.loads(path.read_text())["world_seed"] == 0
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * sr / len(y) - 280) < 3  # tag 8's tone survived OGG

    (tmp_path / loaded[3].file).unlink()
    with pytest.raises(DataError, match="clip files missing"):
        prototypes.load_prototypes(tmp_path)
    table = json.loads(path.read_text())
    table["version"] = 99
    path.write_text(json.dumps(table))
    with pytest.raises(DataError, match="version 99"):
        prototypes.load_prototypes(tmp_path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        prototypes.load_prototypes(tmp_path)


def test_export_needs_all_tags_in_order(tmp_path, rng):
    songs, plays, _ = _songs(rng)
    chosen = prototypes.select_most_listened(songs, plays)
    with pytest.raises(ConfigError, match="80 tags"):
        prototypes.export_prototypes(chosen[::-1], tmp_path, lambda p: None, sr=22050)
