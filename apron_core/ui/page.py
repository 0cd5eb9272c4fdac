"""The page's own CSS and script (passed to launch(); Gradio 6 takes them there).

The script puts a ▶ (id proto-play-<slug>) in the head of every prototype slider and
plays the tag's static clip through one shared <audio id="proto-audio"> (click again to
pause); only one sound plays at a time on the page. A MutationObserver re-adds buttons
when Gradio mounts a tab's sliders, and one document-level click listener serves them all.
It also tracks which slider tab is open (window.__apronCategory): the charts show it,
and makes Enter in a slider's number box apply the value.
"""

from __future__ import annotations

import json

_SCRIPT = """
<script>
(() => {
  if (window.__apronStudio) return;
  window.__apronStudio = true;
  const CLIPS = __CLIPS__;  // tag slug -> [tag, clip url]
  function reset() {
    document.querySelectorAll('.proto-play.playing').forEach((b) => {
      b.classList.remove('playing');
      b.setAttribute('aria-pressed', 'false');
    });
  }
  function clip() {
    let a = document.getElementById('proto-audio');
    if (!a) {
      a = document.createElement('audio');
      a.id = 'proto-audio';
      a.preload = 'none';
      a.addEventListener('ended', reset);
      a.addEventListener('pause', reset);
      document.body.appendChild(a);
    }
    return a;
  }
  // a ▶ in the head of every prototype slider (sliders of a tab mount when it opens)
  function decorate() {
    for (const [slug, [tag, url]] of Object.entries(CLIPS)) {
      const slider = document.getElementById('slider-' + slug);
      if (!slider || slider.querySelector('.proto-play')) continue;
      const head = slider.querySelector('.head');
      if (!head) continue;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'proto-play';
      b.id = 'proto-play-' + slug;
      b.dataset.tag = tag;
      b.dataset.src = url;
      b.title = 'Hear the ' + tag + ' prototype';
      b.setAttribute('aria-label', 'Play the ' + tag + ' prototype');
      b.setAttribute('aria-pressed', 'false');
      b.textContent = '▶';
      const label = head.querySelector('label');
      if (label) label.after(b); else head.prepend(b);
    }
  }
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; decorate(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest && ev.target.closest('.proto-play');
    if (!b) return;
    ev.preventDefault();
    ev.stopPropagation();
    const a = clip();
    if (a.dataset.tag === b.dataset.tag && !a.paused) { a.pause(); return; }
    reset();
    if (a.dataset.tag !== b.dataset.tag) { a.src = b.dataset.src; a.dataset.tag = b.dataset.tag; }
    a.currentTime = 0;
    a.play().then(() => {
      b.classList.add('playing');
      b.setAttribute('aria-pressed', 'true');
    }).catch((e) => console.warn('prototype clip', e));
  }, true);
  // the charts draw the category whose slider tab is open
  window.__apronCategory = window.__apronCategory || 'era';
  document.addEventListener('click', (ev) => {
    const tab = ev.target.closest && ev.target.closest('#proto-tabs [role="tab"]');
    if (!tab) return;
    const m = (tab.dataset.tabId || tab.id || '').match(/tab-(era|genre|mood|instrumentation)/);
    if (m && m[1] !== window.__apronCategory) {
      window.__apronCategory = m[1];
      document.dispatchEvent(new Event('apron-category'));
    }
  });
  // Enter in a slider's number box applies the value, as leaving the box does (Gradio
  // fires the slider's release on blur and pointer-up only)
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.isComposing) return;
    const box = ev.target.closest && ev.target.closest('.tag-slider input[type=number]');
    if (box) box.blur();
  }, true);
  // one sound at a time
  document.addEventListener('play', (ev) => {
    document.querySelectorAll('audio').forEach((x) => { if (x !== ev.target) x.pause(); });
  }, true);
})();
</script>
"""


def head_html(clips: dict[str, tuple[str, str]]) -> str:
    """The page script, given tag slug → (tag, clip URL) of the clips that exist."""
    data = json.dumps(clips, ensure_ascii=True).replace("</", "<\\/")
    return _SCRIPT.replace("__CLIPS__", data)


CSS = """
#apron-intro h1 { margin: 0 0 .2rem 0; font-size: 1.6rem; }
#apron-intro p { margin: 0; opacity: .85; }
/* compact prototype sliders: label ▶ number on one line, the range below */
.tag-slider { padding: 2px 8px 4px 8px !important; }
.tag-slider .head { margin-bottom: 0 !important; align-items: center; gap: .4rem; }
.tag-slider .head label { flex: 1; min-width: 0; }
.tag-slider .head input[type=number] { width: 4.6rem; padding: 0 .3rem; height: 1.6rem; }
.tag-slider .min_value, .tag-slider .max_value { display: none !important; }
.tag-slider .slider_input_container { margin-top: 0 !important; }
.proto-play {
  font-size: .7rem; width: 1.6rem; height: 1.6rem; border-radius: 50%; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); flex: none; padding: 0;
}
.proto-play:hover { border-color: #ea580c; }
.proto-play.playing { background: #ea580c; color: white; border-color: #ea580c; }
.apron-list .list-head { font-weight: 600; margin: .2rem 0 .3rem 0; }
.apron-list ol.songs { list-style: none; margin: 0; padding: 0; }
.apron-list li.song {
  display: flex; gap: .5rem; align-items: center; padding: .25rem .3rem;
  border-bottom: 1px solid var(--border-color-primary); border-left: 3px solid transparent;
}
.apron-list li.song.new { border-left-color: #16a34a; background: rgba(22,163,74,.08); }
.apron-list .rank {
  min-width: 1.4rem; text-align: right; opacity: .6; font-variant-numeric: tabular-nums;
}
.apron-list .meta { flex: 1; min-width: 0; line-height: 1.3; }
.apron-list .line { display: flex; flex-wrap: wrap; gap: .15rem .4rem; align-items: baseline; }
.apron-list .title { font-weight: 600; }
.apron-list .artist { font-size: .85rem; opacity: .75; }
.apron-list .why { font-size: .78rem; color: #c2410c; }
.apron-list .tag {
  font-size: .68rem; padding: 0 .3rem; border-radius: 4px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
}
.apron-list .tag.hit { border-color: #ea580c; color: #c2410c; }
.apron-list button.play {
  width: 1.8rem; height: 1.8rem; border-radius: 50%; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); cursor: pointer; flex: none; padding: 0;
}
.apron-list button.play:hover { border-color: #ea580c; }
.apron-list button.play:disabled { opacity: .35; cursor: not-allowed; }
.badge { font-size: .68rem; padding: 0 .3rem; border-radius: 4px; }
.badge.new { background: #16a34a; color: white; }
.badge.up { color: #16a34a; font-weight: 600; }
.badge.down { color: #dc2626; font-weight: 600; }
.apron-list .left { margin-top: .4rem; font-size: .85rem; color: #dc2626; }
.apron-list .edit-note {
  font-size: .85rem; margin: .2rem 0; padding: .2rem .4rem; border-radius: 4px;
  background: rgba(234,179,8,.15); border: 1px solid rgba(234,179,8,.5);
}
.apron-list .audio-off { font-size: .85rem; color: #b45309; margin: .2rem 0; }
.apron-list li.upload { font-size: .9rem; }
#player .player { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; }
#player audio { height: 2.2rem; flex: 1; min-width: 240px; }
#player .idle { opacity: .7; font-size: .9rem; }
"""
