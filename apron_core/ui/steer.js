// The steering panel's script (ui/prototypes_panel.py fills in the __NAMES__ and runs it
// once per page inside the panel's gr.HTML, which provides `element`, `trigger`, `props`
// and `watch`). It builds the tabs and sliders, redraws them from every payload the
// server sends (handlers.steer_payload) and sends one edit at a time.
const TAGS = __TAGS__, CATS = __CATS__, CLIPS = __CLIPS__;
const KNEE = __KNEE__, STEPS = __STEPS__, CAT_STEP = __CAT_STEP__, PAUSE = __PAUSE__;
const SPAN = Math.log1p(1 / KNEE);
// ui/scale.py's track, mirrored: share within the category (0-1) <-> position (0-1)
const shareAt = (p) => Math.min(1, Math.max(0, KNEE * Math.expm1(Math.min(1, Math.max(0, p)) * SPAN)));
const positionOf = (s) => Math.log1p(Math.min(1, Math.max(0, s)) / KNEE) / SPAN;
const fmt = (pct) => (pct >= 1 ? pct.toFixed(1) : pct.toFixed(2));
// a padlock, open or shut (no emoji: not every system has a colour emoji font)
const LOCK = (shut) => '<svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true" focusable="false">' +
  '<rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor"/>' +
  `<path d="${shut ? 'M5 7V5a3 3 0 0 1 6 0v2' : 'M5 7V5a3 3 0 0 1 5.8-1'}" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>`;
const esc = (t) => String(t).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const root = element.querySelector('.steer');
let data = null;  // the last payload
const held = new Set();  // sliders with an edit waiting: not redrawn meanwhile
const waiting = new Map();  // key -> [event, payload], sent once the one in flight is answered
let inflight = null;
const keyTimers = new Map();  // slider key -> timer of an arrow-key edit waiting for its pause
let pointer = false;  // the next range change comes from a pointer (applies at once)
let dragging = null;  // key of the slider under the pointer
const keyOf = (t) => (t.dataset.tag !== undefined ? 'tag:' + t.dataset.tag : 'cat:' + t.dataset.cat);

// ---------------------------------------------------------------- the DOM, built once
const open0 = window.__apronCategory || 'era';
let shown = open0;  // the tab this panel shows
let openedRev = null;  // the payload whose "open" was applied (once: the visitor may turn away)
let html = '<div class="steer-bar"><div class="steer-tabs" role="tablist" aria-label="Tag categories">';
for (const [c, title] of CATS) {
  const on = c === open0;
  html += `<button type="button" role="tab" id="steer-tab-${c}" aria-controls="steer-panel-${c}"` +
    ` aria-selected="${on}" tabindex="${on ? 0 : -1}" data-cat="${c}">${esc(title)}` +
    ` <span class="cat-share" id="cat-share-${c}"></span></button>`;
}
html += '</div><div class="steer-history">' +
  '<button type="button" id="undo" class="hist" aria-keyshortcuts="Control+Z" disabled>↶ Undo</button>' +
  '<button type="button" id="redo" class="hist" aria-keyshortcuts="Control+Shift+Z" disabled>↷ Redo</button>' +
  '<button type="button" id="reset" class="hist">Reset</button></div></div>';
for (const [c, title] of CATS) {
  html += `<div class="steer-panel" role="tabpanel" id="steer-panel-${c}" aria-labelledby="steer-tab-${c}"` +
    `${c === open0 ? '' : ' hidden'}>` +
    `<div class="cat-row"><label for="cat-${c}">${esc(title)}: share of your profile</label>` +
    `<input type="range" class="cat-range" id="cat-${c}" data-cat="${c}" min="0" max="100" step="${CAT_STEP}" value="0">` +
    `<output class="cat-value" id="cat-value-${c}" for="cat-${c}"></output></div>` +
    `<p class="steer-hint">Each tag's share of ${esc(title.toLowerCase())} (a log track: every doubling is the same distance; the tick marks what your history says).</p>` +
    `<ul class="tag-rows">`;
  TAGS.forEach(([name, cat, slug], i) => {
    if (cat !== c) return;
    const clip = CLIPS[slug];
    const play = clip
      ? `<button type="button" class="proto-play" id="proto-play-${slug}" data-tag="${esc(name)}" data-src="${esc(clip[1])}"` +
        ` data-source="${esc(clip[2])}" data-song="${esc(clip[3])}" aria-pressed="false"` +
        ` aria-label="Play the ${esc(name)} prototype" title="${esc(clip[2] ? 'Prototype: ' + clip[2] : 'Prototype clip')}">▶</button>`
      : '<span class="proto-play none" aria-hidden="true"></span>';
    html += `<li class="tag-row" id="slider-${slug}" data-tag="${i}">${play}` +
      `<label class="tag-name" for="range-${slug}">${esc(name)}</label>` +
      `<span class="track"><input type="range" class="tag-range" id="range-${slug}" data-tag="${i}"` +
      ` min="0" max="${STEPS}" step="1" value="0"><span class="was" aria-hidden="true"></span></span>` +
      `<input type="number" class="share-box" id="share-${slug}" data-tag="${i}" min="0" max="100" step="any"` +
      ` inputmode="decimal" aria-label="${esc(name)}, percent of ${esc(c)}">` +
      `<button type="button" class="lock" id="lock-${slug}" data-tag="${i}" aria-pressed="false"` +
      ` aria-label="Lock ${esc(name)}" title="Lock: keep this share while you move others">${LOCK(false)}</button></li>`;
  });
  html += '</ul></div>';
}
html += '<p class="proto-now" id="proto-now" aria-live="polite"></p>';
root.innerHTML = html;
const rows = TAGS.map(([, , slug]) => ({
  range: root.querySelector('#range-' + slug),
  box: root.querySelector('#share-' + slug),
  lock: root.querySelector('#lock-' + slug),
  was: root.querySelector('#slider-' + slug + ' .was'),
}));

// ---------------------------------------------------------------- drawing a payload
function label(i, share) {
  const cat = TAGS[i][1];
  rows[i].range.setAttribute('aria-valuetext', `${fmt(share * 100)} % of ${cat}`);
}
function draw() {
  const v = typeof props.value === 'string' ? (props.value ? JSON.parse(props.value) : null) : props.value;
  if (!v || !v.within) return;
  data = v;
  if (v.open && v.rev !== openedRev) {  // a typed command turns to the category it changed
    openedRev = v.rev;
    if (v.open !== shown) openTab(v.open, false);
  }
  for (const [c, title] of CATS) {
    const pct = 100 * (v.categories[c] || 0);
    const r = root.querySelector('#cat-' + c);
    if (!held.has('cat:' + c)) r.value = String(pct);
    r.setAttribute('aria-valuetext', `${pct.toFixed(1)} % of your profile`);
    root.querySelector('#cat-value-' + c).textContent = pct.toFixed(1) + ' %';
    root.querySelector('#cat-share-' + c).textContent = Math.round(pct) + '%';
  }
  const locked = new Set(v.locked || []);
  v.within.forEach((s, i) => {
    const row = rows[i];
    if (!held.has('tag:' + i)) {
      row.range.value = String(Math.round(positionOf(s) * STEPS));
      if (document.activeElement !== row.box) row.box.value = fmt(s * 100);
      label(i, s);
    }
    const on = locked.has(i);
    row.lock.setAttribute('aria-pressed', String(on));
    if (row.lock.dataset.shut !== String(on)) {
      row.lock.innerHTML = LOCK(on);
      row.lock.dataset.shut = String(on);
    }
    row.lock.setAttribute('aria-label', (on ? 'Unlock ' : 'Lock ') + TAGS[i][0]);
    row.range.closest('.tag-row').classList.toggle('locked', on);
    if (v.inferred) {
      row.was.style.left = `calc(${(positionOf(v.inferred[i]) * 100).toFixed(2)}% - 1px)`;
      row.was.hidden = false;
    } else {
      row.was.hidden = true;
    }
  });
  const undo = root.querySelector('#undo'), redo = root.querySelector('#redo');
  undo.disabled = !v.undo; redo.disabled = !v.redo;
  undo.title = v.undo ? `Undo (${v.undo} edit${v.undo === 1 ? '' : 's'} back, at most __MAX_UNDO__)` : 'Nothing to undo';
  redo.title = v.redo ? `Redo (${v.redo})` : 'Nothing to redo';
}

// ---------------------------------------------------------------- sending edits, in order
function release() {
  // an answer came: every slider follows it except those with an edit still to send
  // (waiting, or arrow keys before their pause) and the one being dragged
  clearTimeout(inflight);
  inflight = null;
  held.clear();
  for (const key of [...waiting.keys(), ...keyTimers.keys()]) held.add(key);
  if (dragging) held.add(dragging);
}
function flush() {
  if (inflight || !waiting.size) return;
  const [key, [name, payload]] = waiting.entries().next().value;
  waiting.delete(key);
  inflight = setTimeout(() => { release(); draw(); flush(); }, 8000);  // no answer: give up
  trigger(name, payload);
}
function send(key, name, payload) {
  waiting.delete(key);  // the latest per slider wins
  waiting.set(key, [name, payload]);
  held.add(key);
  flush();
}
function editTag(i, percent) {
  send('tag:' + i, 'steer', {kind: 'tag', tag: i, percent: percent});
}


root.addEventListener('pointerdown', (ev) => {
  if (!ev.target.matches('input[type=range]')) return;
  pointer = true;
  dragging = keyOf(ev.target);
});
document.addEventListener('pointerup', () => {
  // the range's change event comes after pointerup: forget the pointer once it is handled
  setTimeout(() => { pointer = false; dragging = null; }, 0);
});
root.addEventListener('input', (ev) => {
  const t = ev.target;
  if (t.classList.contains('tag-range')) {
    const i = Number(t.dataset.tag), s = shareAt(Number(t.value) / STEPS);
    held.add('tag:' + i);
    rows[i].box.value = fmt(s * 100);
    label(i, s);
  } else if (t.classList.contains('cat-range')) {
    held.add('cat:' + t.dataset.cat);
    root.querySelector('#cat-value-' + t.dataset.cat).textContent = Number(t.value).toFixed(1) + ' %';
  }
});
function commitRange(t) {
  if (t.classList.contains('tag-range')) {
    const i = Number(t.dataset.tag);
    editTag(i, 100 * shareAt(Number(t.value) / STEPS));
  } else {
    send('cat:' + t.dataset.cat, 'steer', {kind: 'category', category: t.dataset.cat, percent: Number(t.value)});
  }
}
root.addEventListener('change', (ev) => {
  const t = ev.target;
  if (t.matches('input[type=range]')) {
    const key = keyOf(t);
    clearTimeout(keyTimers.get(key));
    keyTimers.delete(key);
    if (pointer) { pointer = false; commitRange(t); return; }
    keyTimers.set(key, setTimeout(() => { keyTimers.delete(key); commitRange(t); }, PAUSE));
  } else if (t.classList.contains('share-box')) {
    const text = t.value.trim();
    editTag(Number(t.dataset.tag), text === '' ? null : Number(text));
  }
});
root.addEventListener('keydown', (ev) => {
  // Enter in a number box applies it at once (the change event follows the blur)
  if (ev.key === 'Enter' && ev.target.classList.contains('share-box')) ev.target.blur();
});
root.addEventListener('focusout', (ev) => {
  // a keyboard edit still waiting for its pause applies when the slider loses focus
  const t = ev.target;
  if (!t.matches || !t.matches('input[type=range]')) return;
  const key = keyOf(t);
  if (keyTimers.has(key)) {
    clearTimeout(keyTimers.get(key));
    keyTimers.delete(key);
    commitRange(t);
  }
});
root.addEventListener('click', (ev) => {
  const b = ev.target.closest('button');
  if (!b || b.disabled) return;
  if (b.classList.contains('lock')) send('lock:' + b.dataset.tag, 'lock', {tag: Number(b.dataset.tag)});
  else if (b.id === 'undo' || b.id === 'redo' || b.id === 'reset') send('history:' + b.id + Date.now(), b.id, null);
  else if (b.classList.contains('from-song')) trigger('play', {song_id: b.dataset.song});
  else if (b.getAttribute('role') === 'tab') openTab(b.dataset.cat, false);
});

// ---------------------------------------------------------------- tabs (the charts follow)
function openTab(cat, focus) {
  shown = cat;
  for (const [c] of CATS) {
    const on = c === cat;
    const tab = root.querySelector('#steer-tab-' + c);
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    root.querySelector('#steer-panel-' + c).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (window.__apronCategory !== cat) {
    window.__apronCategory = cat;
    document.dispatchEvent(new Event('apron-category'));
  }
}
// the charts may turn first (a typed command's answer reaches them first): follow them
document.addEventListener('apron-category', () => {
  const cat = window.__apronCategory;
  if (cat && cat !== shown) openTab(cat, false);
});
root.querySelector('.steer-tabs').addEventListener('keydown', (ev) => {
  const keys = {ArrowRight: 1, ArrowLeft: -1, Home: -99, End: 99};
  if (!(ev.key in keys)) return;
  ev.preventDefault();
  const names = CATS.map(([c]) => c);
  const now = names.indexOf(shown);
  const k = keys[ev.key];
  const next = Math.abs(k) === 99 ? (k < 0 ? 0 : names.length - 1) : (now + k + names.length) % names.length;
  openTab(names[next], true);
});

// ---------------------------------------------------------------- prototype clips
const now = root.querySelector('#proto-now');
function clip() {
  let a = document.getElementById('proto-audio');
  if (!a) {
    a = document.createElement('audio');
    a.id = 'proto-audio';
    a.preload = 'none';
    a.addEventListener('ended', resetPlay);
    a.addEventListener('pause', resetPlay);
    document.body.appendChild(a);
  }
  return a;
}
function resetPlay() {
  root.querySelectorAll('.proto-play.playing').forEach((b) => {
    b.classList.remove('playing');
    b.setAttribute('aria-pressed', 'false');
  });
}
root.addEventListener('click', (ev) => {
  const b = ev.target.closest && ev.target.closest('.proto-play');
  if (!b || !b.dataset.src) return;
  ev.preventDefault();
  const a = clip();
  if (a.dataset.tag === b.dataset.tag && !a.paused) { a.pause(); return; }
  resetPlay();
  if (a.dataset.tag !== b.dataset.tag) { a.src = b.dataset.src; a.dataset.tag = b.dataset.tag; }
  a.currentTime = 0;
  now.innerHTML = b.dataset.source
    ? `<b>${esc(b.dataset.tag)}</b> prototype: ${esc(b.dataset.source)} ` +
      `<button type="button" class="from-song" data-song="${esc(b.dataset.song)}">▶ whole song</button>`
    : `<b>${esc(b.dataset.tag)}</b> prototype`;
  a.play().then(() => {
    b.classList.add('playing');
    b.setAttribute('aria-pressed', 'true');
  }).catch((e) => console.warn('prototype clip', e));
}, true);

// ---------------------------------------------------------------- keyboard undo / redo
document.addEventListener('keydown', (ev) => {
  if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
  const key = ev.key.toLowerCase();
  if (key !== 'z' && key !== 'y') return;
  const t = ev.target;
  if (t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) ||
      (t.tagName === 'INPUT' && !/^(range|button|checkbox|radio)$/.test(t.type)))) return;
  const which = key === 'y' || ev.shiftKey ? 'redo' : 'undo';
  if (!data || !data[which]) return;
  ev.preventDefault();
  send('history:' + which + Date.now(), which, null);
});

watch('value', () => { release(); draw(); flush(); });
draw();
