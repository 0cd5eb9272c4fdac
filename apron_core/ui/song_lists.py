"""Song lists as one compact HTML string: the top-k with their 'because' line and the
markers for songs that entered, moved or left since the last edit; the listener's history
uses the same rows. Every catalog string is escaped. A ▶ button carries the song id in
data-song; the gr.HTML that shows the list turns its click into a 'play' event whose
data is {song_id: …} (`PLAY_JS`, read back by `played_song`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES
from apron_core.ui.scale import within_shares

MAX_TAGS_SHOWN = 7  # tag chips of a history song
LEFT_SHOWN = 3  # songs that left, shown with ▶ (the rest behind 'n more')
MIX_CHANGES_SHOWN = 3  # tags whose share in the top-k moved most, shown after an edit
MIX_CHANGE_MIN_PCT = 1.0  # … by at least this many points of their category
# a click on a ▶ in a list becomes the component's 'play' event, carrying the song id
PLAY_JS = (
    "element.addEventListener('click', (ev) => {"
    " const b = ev.target.closest('button.play[data-song]');"
    " if (b && !b.disabled) { trigger('play', {song_id: b.dataset.song}); } });"
)


def played_song(event_data: object) -> str:
    """The song id a 'play' event carries (`PLAY_JS`); DataError when it carries none."""
    try:
        song_id = event_data.song_id  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # EventData reads fields of dict payloads only
        song_id = None
    if not isinstance(song_id, str):
        raise DataError("this play event names no song: press ▶ on a song of the list")
    return song_id


@dataclass(frozen=True)
class SongInfo:
    title: str
    artist: str
    year: int | None
    tags: tuple[str, ...]


def song_table(catalog: pd.DataFrame) -> dict[str, SongInfo]:
    """Song id → what a list row shows, from the bundle's catalog."""
    out: dict[str, SongInfo] = {}
    for row in catalog.itertuples(index=False):
        year = getattr(row, "year", None)
        out[str(row.song_id)] = SongInfo(
            title=str(getattr(row, "title", row.song_id)),
            artist=str(getattr(row, "artist", "")),
            year=int(year) if year is not None and pd.notna(year) else None,
            tags=tuple(getattr(row, "tags", ()) or ()),
        )
    return out


@dataclass(frozen=True)
class Changes:
    """How the new top-k differs from the previous one (empty on the first list)."""

    entered: frozenset[str]
    left: tuple[str, ...]  # in their old order
    moved: Mapping[str, int]  # song id → rank change (positive = moved up)


def diff_lists(previous: Sequence[str], current: Sequence[str]) -> Changes:
    if not previous:
        return Changes(frozenset(), (), {})
    old = {s: r for r, s in enumerate(previous)}
    new = set(current)
    entered = frozenset(s for s in current if s not in old)
    left = tuple(s for s in previous if s not in new)
    moved = {s: old[s] - r for r, s in enumerate(current) if s in old and old[s] != r}
    return Changes(entered, left, moved)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _play_button(song_id: str, info: SongInfo, audio_on: bool) -> str:
    label = _e(f"Play {info.title} by {info.artist}")
    disabled = "" if audio_on else " disabled"
    return (
        f'<button class="play" type="button" data-song="{_e(song_id)}" '
        f'aria-label="{label}" title="{label}"{disabled}>▶</button>'
    )


def _row(
    song_id: str,
    info: SongInfo,
    rank: int | None,
    *,
    audio_on: bool,
    because: str = "",
    status: str = "",
    move: int = 0,
) -> str:
    tags = " ".join(f'<span class="tag">{_e(t)}</span>' for t in info.tags[:MAX_TAGS_SHOWN])
    badge = ""
    if status == "new":
        badge = '<span class="badge new" title="entered since the last edit">new</span>'
    elif move:
        arrow, cls = ("↑", "up") if move > 0 else ("↓", "down")
        badge = (
            f'<span class="badge {cls}" title="rank change since the last edit">'
            f"{arrow}{abs(move)}</span>"
        )
    year = f" · {info.year}" if info.year is not None else ""
    rank_html = f'<span class="rank">{rank}</span>' if rank is not None else ""
    state = status or ("up" if move > 0 else "down" if move < 0 else "same")
    if because:  # a recommendation: the reason on one line, the song's tags on hover
        second = f'<div class="line why" title="{_e(because)}">{_e(because)}</div>'
        title = f' title="{_e(", ".join(info.tags))}"'
    else:  # a history song: its tags
        second = f'<div class="line"><span class="tags">{tags}</span></div>'
        title = ""
    return (
        f'<li class="song {state}" data-song="{_e(song_id)}" data-status="{state}">'
        f"{_play_button(song_id, info, audio_on)}{rank_html}"
        f'<div class="meta"><div class="line"><span class="title"{title}>{_e(info.title)}</span>'
        f'<span class="artist">{_e(info.artist)}{_e(year)}</span>{badge}</div>'
        f"{second}</div></li>"
    )


@dataclass(frozen=True)
class MixChange:
    """One tag's share of its category in the top-k's tag mix, before → after an edit."""

    tag: str
    before_pct: float
    after_pct: float


def mix_changes(before: np.ndarray, after: np.ndarray) -> list[MixChange]:
    """The tags whose share of their category in the recommendations' tag mix moved most
    (at least MIX_CHANGE_MIN_PCT points; the scale of the sliders, ui/scale.py)."""
    b, a = within_shares(before) * 100.0, within_shares(after) * 100.0  # (80,) each
    delta = np.abs(a - b)
    order = [int(i) for i in np.argsort(-delta, kind="stable")[:MIX_CHANGES_SHOWN]]
    return [
        MixChange(TAG_NAMES[i], float(b[i]), float(a[i]))
        for i in order
        if delta[i] >= MIX_CHANGE_MIN_PCT
    ]


def _pct(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == 0 else f"{v:.1f}"


def _changes(
    changes: Changes, songs: Mapping[str, SongInfo], mix: Sequence[MixChange], audio_on: bool
) -> str:
    """One compact block: how many songs entered, the songs that left (each with ▶), and
    the tag mix before → after."""
    parts = []
    if changes.entered:
        parts.append(f'<span class="chg-new">+{len(changes.entered)} new</span>')
    if changes.left:
        items = [
            f'<span class="left-song" data-song="{_e(s)}" title="{_e(songs[s].artist)}">'
            f"{_play_button(s, songs[s], audio_on)}{_e(songs[s].title)}</span>"
            for s in changes.left
        ]
        shown, more = items[:LEFT_SHOWN], items[LEFT_SHOWN:]
        rest = (
            f'<details class="left-more"><summary>{len(more)} more</summary>{" ".join(more)}'
            "</details>"
            if more
            else ""
        )
        shown_html = " ".join(shown)
        parts.append(
            f'<span class="left" id="recs-left"><b>Left the list:</b> {shown_html}{rest}</span>'
        )
    if mix:
        shifts = ", ".join(
            f'<span class="mix-tag">{_e(m.tag)} {_pct(m.before_pct)} → {_pct(m.after_pct)} %</span>'
            for m in mix
        )
        parts.append(
            f'<span class="mix" title="share of its category in the tags of the list">'
            f"<b>Tag mix:</b> {shifts}</span>"
        )
    if not parts:
        return ""
    return f'<div class="changes" id="recs-changes">{"".join(parts)}</div>'


def render_recommendations(
    song_ids: Sequence[str],
    because: Sequence[str],
    songs: Mapping[str, SongInfo],
    changes: Changes,
    *,
    heading: str,
    audio_note: str = "",
    notes: Sequence[str] = (),
    mix: Sequence[MixChange] = (),
) -> str:
    """The top-k list, best first, with what the last edit changed (songs that entered,
    moved or left, the tag mix before → after) and the edit's notes (e.g. locked tags
    that had to be rescaled)."""
    audio_on = not audio_note
    rows = []
    for r, sid in enumerate(song_ids):
        status = "new" if sid in changes.entered else ""
        rows.append(
            _row(
                sid,
                songs[sid],
                r + 1,
                audio_on=audio_on,
                because=because[r] if r < len(because) else "",
                status=status,
                move=changes.moved.get(sid, 0),
            )
        )
    note = f'<p class="audio-off">{_e(audio_note)}</p>' if audio_note else ""
    note += "".join(f'<p class="edit-note" role="status">{_e(n)}</p>' for n in notes)
    return (
        f'<div class="apron-list"><div class="list-head">{_e(heading)}</div>{note}'
        f"{_changes(changes, songs, mix, audio_on)}"
        f'<ol class="songs">{"".join(rows)}</ol></div>'
    )


def render_history(
    song_ids: Sequence[str],
    songs: Mapping[str, SongInfo],
    *,
    heading: str,
    extra: Sequence[str] = (),
    audio_note: str = "",
) -> str:
    """The songs a profile was inferred from (catalog songs playable; uploads by name)."""
    audio_on = not audio_note
    rows = [_row(s, songs[s], None, audio_on=audio_on) for s in song_ids]
    rows += [
        f'<li class="song upload"><span class="upload-name">♪ {_e(n)}</span></li>' for n in extra
    ]
    note = f'<p class="audio-off">{_e(audio_note)}</p>' if audio_note else ""
    return (
        f'<div class="apron-list history"><div class="list-head">{_e(heading)}</div>{note}'
        f'<ol class="songs">{"".join(rows)}</ol></div>'
    )


def render_player(song_id: str, info: SongInfo, url: str) -> str:
    """The shared player: a native <audio> that starts at once (the click was a gesture)."""
    return (
        f'<div class="player" data-song="{_e(song_id)}"><span class="now">Now playing: '
        f"<b>{_e(info.title)}</b> — {_e(info.artist)}</span>"
        f'<audio controls autoplay preload="auto" src="{_e(url)}"></audio></div>'
    )
