"""The page's own CSS and script (passed to launch(); Gradio 6 takes them there).

The script keeps one sound playing at a time on the page (a prototype clip, a song) and
gives Gradio's upload buttons the name they show. The sliders' own script lives with
them (ui/prototypes_panel.py), the charts' with the charts (ui/charts.py).

The CSS places the workbench: on a wide screen the charts and the list stay in view
(sticky), the tags of the open category scroll inside the steering panel and the list
inside its column; below 1000 px the columns stack and nothing is sticky. Colours are
chosen for WCAG AA contrast on Gradio's light and dark themes (the browser tests run
axe-core on the page).
"""

from __future__ import annotations

_SCRIPT = r"""
<script>
(() => {
  if (window.__apronStudio) return;
  window.__apronStudio = true;
  // one sound at a time
  document.addEventListener('play', (ev) => {
    document.querySelectorAll('audio').forEach((x) => { if (x !== ev.target) x.pause(); });
  }, true);
  // Gradio names its upload buttons "Click to upload or drop files" while they show
  // "Drop File Here - or - Click to Upload": a voice user says what they see (WCAG 2.5.3)
  const nameUploads = () => {
    document.querySelectorAll('button.upload-container').forEach((b) => {
      const text = b.textContent.replace(/\s+/g, ' ').trim();
      if (text && b.getAttribute('aria-label') !== text) b.setAttribute('aria-label', text);
    });
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; nameUploads(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>
"""


def head_html() -> str:
    """The page script (see the module doc)."""
    return _SCRIPT


ACCENT = "#c2410c"  # 5.2:1 on white
ACCENT_DARK = "#fb923c"  # 7.9:1 on Gradio's dark background
GOOD = "#15803d"  # 5.0:1 on white, white on it 5.0:1
BAD = "#b91c1c"  # 6.5:1 on white

CSS = f"""
/* Gradio's theme, where it falls short of WCAG AA contrast (axe-core, tests/ui): the
   subdued text (#bbbbc2 on white, 1.9:1) and the orange accent (#f97316, 2.8:1) */
.gradio-container {{
  --body-text-color-subdued: #52525b;
  --block-info-text-color: #52525b;
  --color-accent: {ACCENT};
  --button-primary-background-fill: {ACCENT};
  --button-primary-background-fill-hover: #9a3412;
  --button-primary-text-color: #ffffff;
}}
.dark .gradio-container {{
  --body-text-color-subdued: #a1a1aa;
  --block-info-text-color: #a1a1aa;
  --color-accent: {ACCENT_DARK};
  --button-primary-background-fill: #9a3412;
  --button-primary-background-fill-hover: #7c2d12;
}}
#apron-intro h1 {{ margin: 0 0 .2rem 0; font-size: 1.5rem; }}
#apron-intro p {{ margin: 0; }}
#honest-note {{ margin: .3rem 0 0 0; font-size: .85rem; color: var(--body-text-color-subdued); }}
#top-intro {{ gap: .4rem; }}
#history {{ max-height: 130px !important; overflow-y: auto !important; }}

/* ------------------------------------------------ workbench: see while you steer */
/* Gradio clips its container with overflow: hidden, which makes it a scroll box and
   stops position: sticky; clip cuts the same overflow without being one */
.gradio-container {{ overflow: clip !important; }}
#steer [data-testid="status-tracker"] {{ display: none !important; }}  /* see prototypes_panel */
@media (min-width: 1000px) {{
  #workbench {{ align-items: flex-start; }}
  #charts-col, #list-col {{ position: sticky; top: 0; align-self: flex-start; }}
  #list-col {{
    flex-wrap: nowrap; max-height: 100vh; overflow-y: auto; overscroll-behavior: contain;
  }}
  /* the tags scroll inside the panel: the row stays about one screen tall, so the sticky
     charts and list are never pushed off screen by the end of a long tab */
  .steer .tag-rows {{
    max-height: calc(100vh - 330px); min-height: 220px; overflow-y: auto;
    overscroll-behavior: contain; padding-right: 4px;
  }}
}}
#workbench, #workbench > div {{ min-width: 0; }}
#charts-col .apron-chart {{ width: 100%; }}

/* ------------------------------------------------ steer in words */
#command-row {{ align-items: flex-end; gap: .4rem; }}
#command-row > * {{ align-self: flex-end; }}
#command-apply {{ margin-bottom: var(--block-padding, 8px); }}
#command-echo .echo {{ margin: .15rem 0 .3rem 0; font-size: .85rem; }}
#command-echo .echo.ok {{ color: {GOOD}; }}
#command-echo .echo.bad {{ color: {BAD}; }}
#command-echo .echo.idle {{ color: var(--body-text-color-subdued); }}
.dark #command-echo .echo.ok {{ color: #4ade80; }}
.dark #command-echo .echo.bad {{ color: #f87171; }}

/* ------------------------------------------------ the sliders */
.steer {{ font-size: .9rem; }}
.steer-bar {{
  display: flex; flex-wrap: wrap; gap: .3rem .6rem; align-items: center;
  justify-content: space-between; margin-bottom: .3rem;
}}
.steer-tabs {{ display: flex; flex-wrap: wrap; gap: .2rem; }}
.steer-tabs [role=tab] {{
  border: 1px solid var(--border-color-primary); border-radius: 6px 6px 0 0;
  background: var(--background-fill-secondary); color: var(--body-text-color);
  padding: .3rem .55rem; cursor: pointer; font: inherit; min-height: 32px;
}}
.steer-tabs [role=tab][aria-selected=true] {{
  background: var(--background-fill-primary); border-bottom-color: transparent;
  font-weight: 600; box-shadow: inset 0 3px 0 {ACCENT};
}}
.steer-tabs .cat-share {{ font-size: .75rem; color: var(--body-text-color-subdued); }}
.steer-history {{ display: flex; gap: .3rem; }}
.steer button.hist {{
  border: 1px solid var(--border-color-primary); border-radius: 6px; cursor: pointer;
  background: var(--background-fill-secondary); color: var(--body-text-color);
  padding: .25rem .6rem; font: inherit; min-height: 32px;
}}
.steer button.hist:disabled {{ cursor: not-allowed; color: var(--body-text-color-subdued); }}
.steer-panel {{ border-top: 1px solid var(--border-color-primary); padding-top: .3rem; }}
.cat-row {{ display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; font-weight: 600; }}
.cat-row label {{ flex: 1 1 12rem; }}
.cat-row input[type=range] {{ flex: 2 1 8rem; }}
.cat-row output {{ min-width: 3.6rem; text-align: right; font-variant-numeric: tabular-nums; }}
.steer-hint {{
  margin: .15rem 0 .25rem 0; font-size: .78rem; color: var(--body-text-color-subdued);
}}
.tag-rows {{ list-style: none; margin: 0; padding: 0; }}
.tag-row {{
  display: grid;
  grid-template-columns: 1.8rem minmax(4.5rem, 7.5rem) minmax(5rem, 1fr) 3.9rem 1.8rem;
  align-items: center; gap: .35rem; padding: 1px 0;
}}
.tag-row.locked .tag-name {{ font-weight: 600; }}
.tag-name {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.track {{ position: relative; display: block; min-width: 0; }}
.track .was {{
  position: absolute; top: 2px; bottom: 2px; width: 2px; pointer-events: none;
  background: var(--body-text-color-subdued); opacity: .7;
}}
.steer input[type=range] {{ width: 100%; accent-color: {ACCENT}; height: 28px; margin: 0; }}
.steer input.share-box {{
  width: 100%; padding: 0 .25rem; height: 1.8rem; text-align: right; font: inherit;
  border: 1px solid var(--border-color-primary); border-radius: 4px;
  background: var(--background-fill-primary); color: var(--body-text-color);
}}
.proto-play, .steer button.lock, .steer button.from-song {{
  width: 1.8rem; height: 1.8rem; border-radius: 50%; cursor: pointer; padding: 0;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); font-size: .75rem; line-height: 1;
}}
.steer button.from-song {{ width: auto; border-radius: 4px; padding: 0 .4rem; }}
.proto-play.none {{ border: none; background: none; }}
.proto-play:hover, .steer button.lock:hover {{ border-color: {ACCENT}; }}
.proto-play.playing {{ background: {ACCENT}; color: white; border-color: {ACCENT}; }}
.steer button.lock[aria-pressed=true] {{ border-color: {ACCENT}; }}
.proto-now {{ min-height: 1.2rem; margin: .3rem 0 0 0; font-size: .8rem; }}
.steer :focus-visible {{ outline: 2px solid {ACCENT}; outline-offset: 1px; }}

/* ------------------------------------------------ the list */
.apron-list .list-head {{ font-weight: 600; margin: .2rem 0 .3rem 0; }}
.apron-list ol.songs {{ list-style: none; margin: 0; padding: 0; }}
.apron-list li.song {{
  display: flex; gap: .5rem; align-items: center; padding: .1rem .3rem;
  border-bottom: 1px solid var(--border-color-primary); border-left: 3px solid transparent;
}}
.apron-list li.song.new {{ border-left-color: {GOOD}; background: rgba(22,163,74,.08); }}
.apron-list .rank {{
  min-width: 1.4rem; text-align: right; color: var(--body-text-color-subdued);
  font-variant-numeric: tabular-nums;
}}
.apron-list .meta {{ flex: 1; min-width: 0; line-height: 1.25; }}
.apron-list .line {{ display: flex; flex-wrap: wrap; gap: .1rem .4rem; align-items: baseline; }}
.apron-list .title {{ font-weight: 600; overflow-wrap: anywhere; }}
.apron-list .artist {{ font-size: .85rem; color: var(--body-text-color-subdued); }}
.apron-list .why {{
  display: block; font-size: .78rem; color: {ACCENT};
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}}
.dark .apron-list .why {{ color: {ACCENT_DARK}; }}
.apron-list .tag {{
  font-size: .68rem; padding: 0 .3rem; border-radius: 4px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
}}
.apron-list button.play {{
  width: 1.8rem; height: 1.8rem; border-radius: 50%; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); color: var(--body-text-color); cursor: pointer;
  flex: none; padding: 0;
}}
.apron-list button.play:hover {{ border-color: {ACCENT}; }}
.apron-list button.play:disabled {{ opacity: .35; cursor: not-allowed; }}
.badge {{ font-size: .68rem; padding: 0 .3rem; border-radius: 4px; }}
.badge.new {{ background: {GOOD}; color: white; }}
.badge.up {{ color: {GOOD}; font-weight: 600; }}
.badge.down {{ color: {BAD}; font-weight: 600; }}
.dark .badge.up {{ color: #4ade80; }}
.dark .badge.down {{ color: #f87171; }}
.apron-list .changes {{
  display: flex; flex-wrap: wrap; gap: .15rem .6rem; align-items: center; font-size: .8rem;
  margin: .1rem 0 .3rem 0; padding: .2rem .3rem; border-radius: 4px;
  background: var(--background-fill-secondary);
}}
.apron-list .chg-new {{ color: {GOOD}; font-weight: 600; }}
.dark .apron-list .chg-new {{ color: #4ade80; }}
.apron-list .left {{
  display: inline-flex; flex-wrap: wrap; gap: .15rem .4rem; align-items: center;
}}
.apron-list .left-song {{ display: inline-flex; align-items: center; gap: .2rem; }}
.apron-list .left-more {{ display: inline; }}
.apron-list .left-more summary {{ display: inline; cursor: pointer; text-decoration: underline; }}
.apron-list .left-more[open] {{ display: block; }}
.apron-list .left-song button.play {{ width: 1.5rem; height: 1.5rem; font-size: .65rem; }}
.apron-list .edit-note {{
  font-size: .85rem; margin: .2rem 0; padding: .2rem .4rem; border-radius: 4px;
  background: rgba(234,179,8,.15); border: 1px solid rgba(234,179,8,.5);
}}
.apron-list .audio-off {{ font-size: .85rem; color: #92400e; margin: .2rem 0; }}
.apron-list li.upload {{ font-size: .9rem; }}
#player .player {{ display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; }}
#player audio {{ height: 2.2rem; flex: 1; min-width: 200px; max-width: 100%; }}
#player .idle {{ color: var(--body-text-color-subdued); font-size: .9rem; }}

/* ------------------------------------------------ phones */
@media (max-width: 640px) {{
  /* the track gets a line of its own, the full width of the panel: a finger moving a
     thumb along the 78 px left beside the name and number was 3 steps a pixel */
  .tag-row {{
    grid-template-columns: 1.8rem minmax(0, 1fr) 3.8rem 1.8rem;
    grid-template-areas: "play name box lock" "track track track track";
    gap: 0 .35rem; padding: 2px 0 4px 0;
    border-bottom: 1px solid var(--border-color-primary);
  }}
  .tag-row > .proto-play {{ grid-area: play; }}
  .tag-row > .tag-name {{ grid-area: name; }}
  .tag-row > .track {{ grid-area: track; }}
  .tag-row > .share-box {{ grid-area: box; }}
  .tag-row > .lock {{ grid-area: lock; }}
  #apron-intro h1 {{ font-size: 1.3rem; }}
}}
"""
