"""What each interaction does, as plain functions of (context, session, inputs) that
return a `View` (or a small value): no Gradio here, so tests call them directly.
Each panel (ui/<panel>.py) binds them to its components through the error decorator;
`events.view_outputs` turns a View into what the page receives.

Every number a View carries comes from the engine: the profile (inferred or edited
through `state`), the top-k, their explanations and their tag mix.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from apron_core.errors import DataError
from apron_core.tags import CATEGORIES, TAG_NAMES
from apron_core.ui import commands
from apron_core.ui import state as st
from apron_core.ui.audio import encode_uploads
from apron_core.ui.charts import radar_values, tag_mix_values
from apron_core.ui.context import AppContext
from apron_core.ui.disk import prune
from apron_core.ui.files import static_url
from apron_core.ui.limits import check_query, check_song_ids
from apron_core.ui.scale import TAG_CATEGORY, category_shares, wire_shares
from apron_core.ui.song_lists import (
    diff_lists,
    mix_changes,
    render_history,
    render_player,
    render_recommendations,
)
from apron_core.ui.state import Session


@dataclass(frozen=True)
class View:
    """Everything one edit sends back to the page."""

    session: Session
    recs_html: str
    radar: dict  # what the radar draws (charts.radar_values)
    tagmix: dict  # what the tag-mix bars draw (charts.tag_mix_values)
    notes: tuple[str, ...] = ()
    steer: dict = field(default_factory=dict)  # what the sliders show (`steer_payload`)


@dataclass(frozen=True)
class Start:
    """A new profile: its view plus the history panel that explains where it came from."""

    view: View
    history_html: str
    listener_id: str | None  # the demo listener now selected (None: a custom profile)


def _require(session: Session) -> np.ndarray:
    if session.profile is None:
        raise DataError("there is no profile yet: pick a demo listener or build your own")
    return session.profile


def _edited(session: Session) -> bool:
    return session.inferred is not None and not np.allclose(
        session.inferred, session.profile, atol=5e-5
    )


def refresh(ctx: AppContext, session: Session, notes: Sequence[str] = ()) -> View:
    """Recommend for the session's profile and render the list, both charts and the
    sliders' payload."""
    profile = _require(session)
    k = ctx.config.k
    rec = ctx.engine.recommend(profile, k=k, exclude=session.history, explain=True)
    changes = diff_lists(session.last_recs, rec.song_ids)
    heading = f"Top {k} for {session.source or 'this profile'}"
    if _edited(session):
        heading += " · edited"
    before_mix = session.last_mix if session.last_recs else None
    html = render_recommendations(
        rec.song_ids,
        [e.text for e in rec.explanations],
        ctx.songs,
        changes,
        heading=heading,
        audio_note=ctx.audio_note,
        notes=notes,
        mix=mix_changes(before_mix, rec.tag_mix) if before_mix is not None else (),
    )
    new = replace(
        session, last_recs=tuple(rec.song_ids), last_mix=rec.tag_mix, views=session.views + 1
    )
    return View(
        session=new,
        recs_html=html,
        radar=radar_values(session.inferred, profile),
        tagmix=tag_mix_values(profile, rec.tag_mix, k, before_mix),
        notes=tuple(notes),
        steer=steer_payload(new),
    )


def steer_payload(session: Session) -> dict:
    """What the sliders show (ui/scale.py): each category's share of the profile, each
    tag's share of its category (and the inferred one, marked on its track), the locks
    and how many edits can be undone and redone. `rev` changes with every view, so the
    page redraws the sliders even when an edit was refused (the slider springs back).
    A typed command adds "open": the category the page then shows."""
    profile = _require(session)
    inferred = session.inferred
    return {
        "rev": session.views,
        "categories": dict(
            zip(CATEGORIES, (round(float(v), 6) for v in category_shares(profile)), strict=True)
        ),
        "within": wire_shares(profile),
        "inferred": wire_shares(inferred),
        "locked": sorted(session.locked),
        "undo": len(session.undo),
        "redo": len(session.redo),
        "edited": _edited(session),
    }


# --------------------------------------------------------------------------- new profiles


def start_listener(ctx: AppContext, listener_id: str) -> Start:
    """A demo listener's inferred profile, their history and first recommendations."""
    listener = ctx.listeners.get(listener_id) if isinstance(listener_id, str) else None
    if listener is None:
        raise DataError(f"unknown demo listener {str(listener_id)[:40]!r}: pick one from the list")
    profile = ctx.engine.profile(listener.history)
    session = Session(
        inferred=profile,
        history=tuple(listener.history),
        source=f"demo listener {listener.listener_id}",
    ).with_profile(profile)
    history = render_history(
        listener.history,
        ctx.songs,
        heading=f"{listener.listener_id} listened to {len(listener.history)} songs · "
        f"{listener.description}",
        audio_note=ctx.audio_note,
    )
    return Start(refresh(ctx, session), history, listener.listener_id)


def default_listener(ctx: AppContext) -> str:
    if not ctx.listeners:
        raise DataError("this bundle has no demo listeners: build a profile from the catalog")
    return next(iter(ctx.listeners))


def page_load(ctx: AppContext, share_code: str | None) -> Start:
    """The first view of a tab: the profile of a shared link (?p=...), else the first
    demo listener. A damaged link is reported and the default shown instead."""
    if share_code:
        try:
            profile, locked = st.decode_share(share_code)
        except DataError as e:
            start = start_listener(ctx, default_listener(ctx))
            note = f"{e} Showing {start.view.session.source} instead."
            return replace(start, view=replace(start.view, notes=(note,)))
        session = Session(inferred=profile, locked=locked, source="a shared profile")
        session = session.with_profile(profile)
        history = render_history(
            [], ctx.songs, heading="This profile came from a shared link (no history)."
        )
        return Start(refresh(ctx, session), history, None)
    return start_listener(ctx, default_listener(ctx))


def search_catalog(ctx: AppContext, query: str) -> list[tuple[str, str]]:
    """(label, song id) of up to search_limit songs whose title, artist, year, tags or id
    contain every word of the query (case-insensitive)."""
    words = check_query(query, limit=ctx.config.max_query_chars).lower().split()
    if not words:
        return []
    hits = []
    for sid, text in ctx.search_text:
        if all(w in text for w in words):
            hits.append(sid)
            if len(hits) >= ctx.config.search_limit:
                break
    return [(song_label(ctx, s), s) for s in hits]


def song_label(ctx: AppContext, song_id: str) -> str:
    s = ctx.songs[song_id]
    year = f" ({s.year})" if s.year is not None else ""
    return f"{s.title} — {s.artist}{year} · {', '.join(s.tags[:5])}"


def add_songs(
    ctx: AppContext, picked: Sequence[str] | None, ticked: Sequence[str] | None
) -> list[tuple[str, str]]:
    """(label, song id) of the songs picked so far plus the newly ticked ones, each once,
    in the order they were added; DataError naming unknown ids, or more than the
    per-visitor cap."""
    limit = ctx.config.limits.max_picked_songs
    so_far = check_song_ids(picked, what="your songs", limit=limit)
    new = check_song_ids(ticked, what="ticked songs", limit=limit)
    ids = check_song_ids([*so_far, *new], what="your songs", limit=limit)
    ctx.engine.song_index(ids)
    return [(song_label(ctx, s), s) for s in ids]


def build_profile(
    ctx: AppContext, song_ids: Sequence[str] | None, upload_paths: Sequence[str] | None
) -> Start:
    """A profile from catalog songs the visitor picked and/or audio files they uploaded;
    files that cannot be used are named in the notes, the rest still count."""
    picked = check_song_ids(song_ids, what="your songs", limit=ctx.config.limits.max_picked_songs)
    ctx.engine.song_index(picked)  # unknown ids → DataError naming them
    uploads = encode_uploads(upload_paths or [], ctx.engine.encode_upload, ctx.config.audio)
    if not picked and uploads.embeddings is None:
        if uploads.problems:
            raise DataError(
                "none of the uploaded files could be used: " + " ".join(uploads.problems)
            )
        raise DataError("pick at least one song from the catalog or upload an audio file")
    profile = ctx.engine.profile(picked, embeddings=uploads.embeddings, evidence=uploads.evidence)
    parts = []
    if picked:
        parts.append(f"{len(picked)} catalog song{'s' * (len(picked) != 1)}")
    if uploads.names:
        parts.append(f"{len(uploads.names)} upload{'s' * (len(uploads.names) != 1)}")
    source = "your " + " + ".join(parts)
    session = Session(inferred=profile, history=tuple(picked), source=source)
    session = session.with_profile(profile)
    heading = f"Your profile is built from {' and '.join(parts)}"
    encoder = ctx.engine.bundle.encoder if uploads.names else None
    if encoder is not None:  # an upload is only as well understood as its encoder
        heading += f" (uploads embedded by the {encoder.describe()} encoder"
        heads = ctx.engine.tag_evidence
        if heads is not None and uploads.evidence is not None:
            heading += f"; their tags also heard by musicnn's {heads.describe()} tag heads"
        heading += ")"
    history = render_history(
        picked,
        ctx.songs,
        heading=heading,
        extra=uploads.names,
        audio_note=ctx.audio_note,
    )
    view = refresh(ctx, session, uploads.problems)
    return Start(view, history, None)


# --------------------------------------------------------------------------- edits


def _apply(ctx: AppContext, session: Session, edit: st.Edit | None) -> View:
    """The view after an edit (a history step), or of the same profile when it was None."""
    if edit is None:
        return refresh(ctx, session)
    return refresh(ctx, st.commit(session, edit.profile), edit.notes)


def _tag_index(tag: object) -> int:
    if isinstance(tag, str):
        return _tag(tag)
    if isinstance(tag, (int, np.integer)) and not isinstance(tag, bool):
        return int(tag)
    raise DataError(f"tag {str(tag)[:30]!r} must be a tag name or index")


def set_weight(ctx: AppContext, session: Session, tag: int | str, percent: float) -> View | None:
    """One tag set to `percent` of the whole profile (/set_weight). None when it already
    had that value."""
    edit = st.set_tag(_require(session), _tag_index(tag), percent, session.locked)
    return None if edit is None else _apply(ctx, session, edit)


def steer(ctx: AppContext, session: Session, data: object) -> View:
    """A slider of the steering panel let go (or its number typed): {"kind": "tag",
    "tag": index, "percent": % of its category} or {"kind": "category", "category":
    name, "percent": % of the profile}. A refused edit shows the same profile with the
    reason printed in the list (the event skips the queue, and an unqueued event cannot
    show an error toast), so the slider springs back."""
    profile = _require(session)
    try:
        if not isinstance(data, dict):
            raise DataError("this slider event carries no value: move the slider again")
        kind = data.get("kind")
        if kind == "tag":
            i = _tag_index(data.get("tag"))
            edit = st.set_within(profile, i, data.get("percent"), session.locked)
        elif kind == "category":
            edit = st.set_category(
                profile, data.get("category"), data.get("percent"), session.locked, session.inferred
            )
        else:
            raise DataError(f"unknown slider kind {str(kind)[:20]!r}: use 'tag' or 'category'")
    except DataError as e:
        return refresh(ctx, session, notes=(str(e),))
    return _apply(ctx, session, edit)


def noted(ctx: AppContext, session: Session, action: Callable[..., View], *args: object) -> View:
    """`action(ctx, session, *args)` for an unqueued page event: when it is refused, the
    same profile with the reason printed in the list (such an event cannot show a toast,
    and the page waits for its answer before it sends the next edit)."""
    try:
        return action(ctx, session, *args)
    except DataError as e:
        return refresh(ctx, session, notes=(str(e),))


def _tag(name: str) -> int:
    if not isinstance(name, str) or not name:
        raise DataError("choose a tag first")
    return next(iter(st.tag_indices([name], what="tag")))


def zero(ctx: AppContext, session: Session, tag: str) -> View:
    return _apply(ctx, session, st.zero_tag(_require(session), _tag(tag), session.locked))


def boost(ctx: AppContext, session: Session, tag: str) -> View:
    return _apply(ctx, session, st.boost_tag(_require(session), _tag(tag), session.locked))


def set_locks(session: Session, names: Sequence[str] | None) -> Session:
    """Locks change no weight by themselves, only how later edits renormalize (a history
    step, so undo takes a lock back too)."""
    locked = st.tag_indices(names or [], what="locked tags")
    return st.commit(session, _require(session), locked) if session.profile is not None else session


def toggle_lock(ctx: AppContext, session: Session, data: object) -> View:
    """The lock button of one tag's slider: {"tag": index}."""
    tag = _tag_index(data.get("tag") if isinstance(data, dict) else None)
    if not 0 <= tag < len(TAG_NAMES):
        raise DataError(f"tag index {tag} is out of range 0-{len(TAG_NAMES) - 1}")
    locked = session.locked ^ {tag}
    return refresh(ctx, st.commit(session, _require(session), locked))


def reset(ctx: AppContext, session: Session) -> View:
    """Back to the inferred profile, locks released (a history step: undo returns)."""
    _require(session)
    if session.inferred is None:
        raise DataError("this profile was never inferred from songs: there is nothing to reset to")
    return refresh(ctx, st.commit(session, session.inferred, frozenset()))


def undo(ctx: AppContext, session: Session) -> View:
    _require(session)
    return refresh(ctx, st.undo(session))


def redo(ctx: AppContext, session: Session) -> View:
    _require(session)
    return refresh(ctx, st.redo(session))


@dataclass(frozen=True)
class Typed:
    """A typed command's result: the new view (None when nothing changed) and the line
    that says what was understood (or why not)."""

    view: View | None
    echo: str
    ok: bool


def command(ctx: AppContext, session: Session, text: object) -> Typed:
    """A typed command applied as one edit ("more jazz, no 1980s"; ui/commands.py).
    Not understood or refused: no edit, and the echo says why."""
    _require(session)
    try:
        cmd = commands.parse(text)
        if cmd.action == "undo":
            return Typed(undo(ctx, session), "Undid the last edit.", True)
        if cmd.action == "redo":
            return Typed(redo(ctx, session), "Redid the edit.", True)
        if cmd.action == "reset":
            return Typed(reset(ctx, session), "Back to the inferred profile.", True)
        edit = commands.apply(cmd, session.profile, session.locked)
    except DataError as e:
        return Typed(None, str(e), False)
    said = cmd.describe()
    if cmd.corrections:
        said += f" ({'; '.join(cmd.corrections)})"
    if np.array_equal(edit.profile, session.profile):
        return Typed(None, f"Understood: {said}. That changes nothing.", True)
    view = _apply(ctx, session, edit)
    # the sliders and charts turn to the category the command changed first
    category = CATEGORIES[int(TAG_CATEGORY[cmd.steps[0].tags[0]])]
    return Typed(
        replace(view, steer={**view.steer, "open": category}), f"Understood: {said}.", True
    )


# --------------------------------------------------------------------------- files & links


def export_profile(ctx: AppContext, session: Session) -> Path:
    """The profile as a JSON file the page offers for download."""
    text = st.export_json(session)
    root = ctx.export_dir
    root.mkdir(parents=True, exist_ok=True)
    prune(root, ctx.config.export_cap)  # the janitor also does, between exports
    path = Path(tempfile.mkdtemp(dir=root)) / "apron-profile.json"
    path.write_text(text, encoding="utf-8")
    return path


def import_profile(ctx: AppContext, path: str | None) -> Start:
    """A profile from an exported JSON file; its history (if any) is checked against the
    catalog and re-inferred, so 'reset' returns to what those songs say."""
    if not path:
        raise DataError("choose a profile file (.json) written by Export")
    file = Path(path)
    size = file.stat().st_size
    if size > st.MAX_JSON_BYTES:
        raise DataError(
            f"the profile file is {size:,} bytes, more than {st.MAX_JSON_BYTES:,}: "
            "use a file written by Export"
        )
    imported = st.import_json(file.read_bytes())
    ctx.engine.song_index(imported.history)
    inferred = ctx.engine.profile(imported.history) if imported.history else imported.profile
    source = imported.source or "an imported profile"
    session = Session(
        inferred=inferred, locked=imported.locked, history=imported.history, source=source
    ).with_profile(imported.profile)
    history = render_history(
        imported.history,
        ctx.songs,
        heading=f"Imported profile ({len(imported.history)} history songs)",
        audio_note=ctx.audio_note,
    )
    return Start(refresh(ctx, session), history, None)


def share_query(session: Session) -> str:
    """The query string that reopens this profile (and its locks) in another browser."""
    return "?p=" + st.encode_share(_require(session), session.locked)


def play(ctx: AppContext, song_id: str) -> str:
    """The shared player's HTML for a catalog song (rendered on first request)."""
    path = ctx.audio.path(song_id)
    return render_player(song_id, ctx.songs[song_id], static_url(path))


def profile_api(ctx: AppContext, song_ids: Sequence[str]) -> list[float]:
    """The profile (80 weights summing to 1) the engine infers from catalog song ids."""
    ids = check_song_ids(song_ids, what="song_ids", limit=ctx.config.limits.max_history)
    return [float(v) for v in ctx.engine.profile(ids)]


def recommend_api(
    ctx: AppContext, weights: Sequence[float], exclude: Sequence[str] | None, k: int
) -> dict:
    """Stateless recommendations for API clients: 80 weights in, the top-k out."""
    exclude = check_song_ids(exclude, what="exclude", limit=ctx.config.limits.max_history)
    rec = ctx.engine.recommend(weights, k=k, exclude=exclude, explain=True)
    return {
        "song_ids": rec.song_ids,
        "titles": [ctx.songs[s].title for s in rec.song_ids],
        "artists": [ctx.songs[s].artist for s in rec.song_ids],
        "because": [e.text for e in rec.explanations],
        "scores": [round(float(v), 5) for v in rec.scores],
        "tag_mix": {TAG_NAMES[i]: round(float(v), 5) for i, v in enumerate(rec.tag_mix) if v > 0},
    }
