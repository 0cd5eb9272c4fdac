"""The page: panels placed and wired to the handlers.

Latency design (measured, see reports/app_benchmarks.md): every interaction that changes the
profile returns four outputs (session, list, radar, tag mix); the radar's payload also
carries the 80 slider values, and a chained page-only event (js, no server call) copies
them into the sliders. A server-side catch-up that wrote the sliders back cost 70-90 ms
per edit in Gradio's status bookkeeping and kept a copy of every slider per session
(+136 MB for 50 visitors); the page-side copy costs neither. The 80 sliders' release
events feed ONE handler (`trigger_mode="always_last"`, no progress overlay) that takes
no component inputs: the released slider and its value arrive as event data. Sending 80
slider values per edit, or writing 80 sliders back in the same response, each cost about
100 ms in the browser; this way the list and charts update after one small round trip.
The release event skips the queue (measured 20-40 ms faster); an unqueued event cannot
raise toasts, so an edit's notes are printed in the list itself. The released slider is
found by its elem_id: after a sync Gradio may hand over a copy with another _id.

Handlers are wrapped by `handle_errors`; the queued ones' notes also pop up as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES
from apron_core.ui import handlers as h
from apron_core.ui.charts import build_charts, figure_json
from apron_core.ui.context import AppContext
from apron_core.ui.controls import SHARE_JS, build_controls
from apron_core.ui.errors import handle_errors, warn_all
from apron_core.ui.listener import build_listener
from apron_core.ui.page import CSS, head_html
from apron_core.ui.prototypes_panel import build_prototypes, clip_map
from apron_core.ui.recommendations import build_recommendations
from apron_core.ui.state import Session

INTRO = """
<div id="apron-intro">
<h1>APRON Studio</h1>
<p>Your taste as 80 weights, one per musical tag; each tag is a clip you can hear (▶).
Move a slider and the recommendations follow; ▶ on a song plays it.</p>
</div>
"""
SLIDERS_KEY = "sliders"  # in the radar's payload: the 80 slider values, percent
# (radar payload, current slider values) → the values the sliders must show
SYNC_SLIDERS_JS = f"""(radar, ...shown) => {{
  if (!radar) return shown;
  const values = (typeof radar === 'string' ? JSON.parse(radar) : radar)[{SLIDERS_KEY!r}];
  return Array.isArray(values) && values.length === shown.length ? values : shown;
}}"""
QUICK = "Drag a slider and let go; the others rescale so the shares still add up to 100 %."
N_VIEW = 4  # session, list, radar, tag mix
QUEUE_STATUS_S = 1.0  # how often queued visitors hear their place in the queue


def _outputs(view: h.View, *, toast: bool = True) -> list:
    """The four view outputs; notes also pop up as warnings (queued events only: an
    unqueued event cannot show toasts, the notes are in the list either way)."""
    if toast:
        warn_all(view.notes)
    session, _ = h.sync_sliders(view.session)  # the page copies SLIDERS_KEY into the sliders
    radar = {**view.radar, SLIDERS_KEY: [float(v) for v in session.slider_values()]}
    return [session, view.recs_html, figure_json(radar), figure_json(view.tagmix)]


def _start_outputs(start: h.Start) -> list:
    return [
        *_outputs(start.view),
        start.history_html,
        start.listener_id,
        [TAG_NAMES[i] for i in sorted(start.view.session.locked)],
    ]


def _event_value(evt: gr.EventData, key: str | None = None):
    data = getattr(evt, "_data", None)
    if key is None:
        return data
    return data.get(key, "") if isinstance(data, dict) else ""


def build_app(ctx: AppContext) -> gr.Blocks:
    """The Blocks of the app (launch it with `launch_options(ctx)`)."""
    with gr.Blocks(
        title="APRON Studio", analytics_enabled=False, fill_width=True, delete_cache=(3600, 3600)
    ) as demo:
        state = gr.State(Session())
        gr.HTML(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=400):
                listener = build_listener(ctx)
                gr.Markdown(f"**Your taste, tag by tag** (share of the profile, %). {QUICK}")
                protos = build_prototypes(ctx)
                controls = build_controls()
            with gr.Column(scale=6, min_width=400):
                recp = build_recommendations()
        with gr.Row(equal_height=False):
            radar, tagmix = build_charts()
        # API-only inputs of the set_weight endpoint (the page uses the sliders' events)
        with gr.Row(visible=False):
            api_tag = gr.Textbox(label="tag")
            api_percent = gr.Number(label="percent")
            api_set = gr.Button("set weight")

        sliders = protos.sliders
        # the released slider, by elem_id (Gradio may hand over a copy with another _id)
        slider_index = {s.elem_id: i for i, s in enumerate(sliders)}
        view_out = [state, recp.recs, radar, tagmix]
        start_out = [*view_out, listener.history, listener.select, controls.locks]
        quiet = {"show_progress": "hidden"}

        def then_sync(event) -> None:
            """Chain the slider catch-up after a profile-changing event: in the page only,
            from the values the radar's payload carries (the server recorded them)."""
            event.success(
                None,
                inputs=[radar, *sliders],
                outputs=sliders,
                js=SYNC_SLIDERS_JS,
                api_visibility="private",
                **quiet,
            )

        # ------------------------------------------------------------ new profiles
        @handle_errors
        def on_load(session: Session, request: gr.Request):
            code = request.query_params.get("p") if request is not None else None
            return _start_outputs(h.page_load(ctx, code))

        then_sync(demo.load(on_load, inputs=[state], outputs=start_out, api_visibility="private"))

        @handle_errors
        def on_listener(listener_id: str):
            return _start_outputs(h.start_listener(ctx, listener_id))

        then_sync(
            listener.select.input(
                on_listener,
                inputs=[listener.select],
                outputs=start_out,
                api_name="listener",
                **quiet,
            )
        )

        @handle_errors
        def on_search(query: str):
            return gr.CheckboxGroup(choices=h.search_catalog(ctx, query), value=[])

        gr.on(
            [listener.search.input, listener.search.submit],
            on_search,
            inputs=[listener.search],
            outputs=[listener.results],
            trigger_mode="always_last",
            api_name="search",
            **quiet,
        )

        @handle_errors
        def on_add(ticked: Sequence[str] | None, picked: Sequence[str] | None):
            ids = list(dict.fromkeys([*(picked or []), *(ticked or [])]))
            ctx.engine.song_index(ids)
            return gr.Dropdown(choices=[(h.song_label(ctx, s), s) for s in ids], value=ids)

        listener.add.click(
            on_add,
            inputs=[listener.results, listener.picked],
            outputs=[listener.picked],
            api_visibility="private",
            **quiet,
        )

        @handle_errors
        def on_build(picked: Sequence[str] | None, files: Sequence[str] | None):
            return _start_outputs(h.build_profile(ctx, picked, files))

        then_sync(
            listener.build.click(
                on_build,
                inputs=[listener.picked, listener.upload],
                outputs=start_out,
                api_name="build_profile",
                concurrency_limit=2,
            )
        )

        @handle_errors
        def on_import(path: str | None):
            return _start_outputs(h.import_profile(ctx, path))

        then_sync(
            controls.import_file.upload(
                on_import,
                inputs=[controls.import_file],
                outputs=start_out,
                api_name="import_profile",
            )
        )

        # ------------------------------------------------------------ edits
        @handle_errors
        def on_release(session: Session, evt: gr.EventData):
            i = slider_index.get(getattr(evt.target, "elem_id", None))
            if i is None:
                raise DataError("this event must come from a prototype slider")
            view = h.set_weight(ctx, session, i, _event_value(evt))
            return [gr.skip()] * N_VIEW if view is None else _outputs(view, toast=False)

        then_sync(
            gr.on(
                [s.release for s in sliders],
                on_release,
                inputs=[state],
                outputs=view_out,
                trigger_mode="always_last",
                api_visibility="private",
                concurrency_limit=None,
                queue=False,  # measured ~20-40 ms faster; its notes show in the list
                **quiet,
            )
        )

        @handle_errors
        def on_set_weight(session: Session, tag: str, percent: float):
            view = h.set_weight(ctx, session, tag, percent)
            return [gr.skip()] * N_VIEW if view is None else _outputs(view)

        then_sync(
            api_set.click(
                on_set_weight,
                inputs=[state, api_tag, api_percent],
                outputs=view_out,
                api_name="set_weight",
                **quiet,
            )
        )

        @handle_errors
        def on_zero(session: Session, tag: str):
            return _outputs(h.zero(ctx, session, tag))

        @handle_errors
        def on_boost(session: Session, tag: str):
            return _outputs(h.boost(ctx, session, tag))

        for button, fn, name in (
            (controls.zero, on_zero, "zero"),
            (controls.boost, on_boost, "boost"),
        ):
            then_sync(
                button.click(
                    fn, inputs=[state, controls.tag], outputs=view_out, api_name=name, **quiet
                )
            )

        @handle_errors
        def on_locks(session: Session, names: Sequence[str] | None):
            return h.set_locks(session, names)

        controls.locks.change(
            on_locks, inputs=[state, controls.locks], outputs=[state], api_name="locks", **quiet
        )

        @handle_errors
        def on_reset(session: Session):
            return [*_outputs(h.reset(ctx, session)), []]

        then_sync(
            controls.reset.click(
                on_reset,
                inputs=[state],
                outputs=[*view_out, controls.locks],
                api_name="reset",
                **quiet,
            )
        )

        # ------------------------------------------------------------ files, links, audio
        @handle_errors
        def on_export(session: Session) -> str:
            return str(h.export_profile(ctx, session))

        controls.export.click(
            on_export, inputs=[state], outputs=[controls.export_file], api_name="export_profile"
        )

        @handle_errors
        def on_share(session: Session) -> str:
            return h.share_query(session)

        controls.share.click(
            on_share, inputs=[state], outputs=[controls.share_url], api_name="share", **quiet
        ).success(None, inputs=[controls.share_url], outputs=[controls.share_url], js=SHARE_JS)

        @handle_errors
        def on_play(evt: gr.EventData) -> str:
            return h.play(ctx, _event_value(evt, "song_id"))

        for source in (recp.recs, listener.history):
            source.play(on_play, outputs=[recp.player], api_visibility="private", **quiet)

        @handle_errors
        def play_song(song_id: str) -> str:
            """HTML of a player for a catalog song (rendered on first request)."""
            return h.play(ctx, song_id)

        gr.api(play_song, api_name="play")

        @handle_errors
        def recommend(weights: list[float], exclude: list[str], k: int = 20) -> dict:
            """Top-k for 80 weights (tag order of the sliders), never one of `exclude`."""
            return h.recommend_api(ctx, weights, exclude, k)

        gr.api(recommend, api_name="recommend")

        @handle_errors
        def profile(song_ids: list[str]) -> list[float]:
            """The profile (80 weights summing to 1) inferred from catalog song ids."""
            return [float(v) for v in ctx.engine.profile(song_ids)]

        gr.api(profile, api_name="profile")

    # Queue status: every second instead of after every finished job. "auto" sends each
    # waiting client an estimate whenever any job ends, which under 50 busy visitors
    # spent a sixth of the server's CPU writing to sockets (py-spy, bench_load api).
    demo.queue(default_concurrency_limit=4, status_update_rate=QUEUE_STATUS_S)
    return demo


def launch_options(ctx: AppContext) -> dict:
    """Keyword arguments for demo.launch(): the page's CSS/script and the upload cap."""
    return {
        "css": CSS,
        "head": head_html(clip_map(ctx)),
        "max_file_size": ctx.config.audio.max_upload_bytes,
        "allowed_paths": [],
        "footer_links": ["api"],
    }
