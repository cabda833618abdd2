// rollout-trace viewer: a dependency-free page over the view model (rollout_trace_sdk/view/model.py).
// This part loads the model (embedded or fetched, polled when served), selects, wires the
// events and starts; util.js, list.js, timeline.js and detail.js come before it.
// --- loading -----------------------------------------------------------------------------

function readColors() {
  const css = getComputedStyle(document.documentElement);
  for (const k of ["inf", "tool", "op", "turn", "cmp", "edge", "fail", "sel", "line", "muted", "ink"]) {
    COLORS[k] = css.getPropertyValue("--" + k).trim();
  }
}

async function start() {
  readColors();
  const boot = $("rt-boot");
  const cfg = boot ? JSON.parse(boot.textContent) : { mode: "static" };
  S.mode = cfg.mode;
  let model;
  if (cfg.mode === "serve") {
    model = await (await fetch("model.json")).json();
    S.version = cfg.version;
    $("live").hidden = false;
    showStatus(cfg);
    setInterval(poll, 2000);
  } else {
    model = JSON.parse($("rt-model").textContent);
    showNotice(null, cfg.notes || [], cfg.notes_total, cfg.reports);  // what `view --lenient` skipped
  }
  performance.mark("rt-parsed");
  S.payloadNote = cfg.payload_note || "";
  setModel(model, true);
  performance.mark("rt-model");
  wire();
  selectFromHash();
  performance.mark("rt-ready");
  window.__rt.ready = true;
}

async function fetchOk(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r;
}

// Served: ask the server how the bundle stands, refetch the model when it moved on, and say
// on the page what the server knows (lenient notes, a bundle that could not be read again,
// a server that does not answer). One poll at a time.
async function poll() {
  if (S.polling) return;
  S.polling = true;
  try {
    const st = await (await fetchOk("status")).json();
    if (st.version && st.version !== S.version) {
      const model = await (await fetchOk("model.json")).json();
      S.version = st.version;
      const sel = S.sel, selId = sel ? S.m[SEL_LIST[sel.kind]][sel.i].id : null;
      const agent = S.agentSel != null && S.m.threads[S.agentSel] ? S.m.threads[S.agentSel].id : null;
      const pane = S.pane, only = S.threadFilter >= 0 && S.m.threads[S.threadFilter] ? S.m.threads[S.threadFilter].id : null;
      if (only != null) S.threadFilter = indexById(model.threads, only, S.threadFilter);  // by id, or none
      setModel(model, false);
      S.refresh = true;
      try {
        if (selId != null) reselect(sel, selId, pane === sel);
        if (agent != null) reagent(agent, pane === "agent");
      } finally { S.refresh = false; }
      if (S.pendingLink) selectPendingLink();
    }
    showStatus(st);
  } catch (e) {
    setLive("offline", "the server does not answer: showing what it sent last");
  } finally {
    S.polling = false;
  }
}

// The selected object found again by its id, not its position: a bundle rewritten under the
// served page (another rollout written to its path, its log cut back) can hold another object
// at that position, or none; the details then said whichever it was, and the address too.
const SEL_LIST = { call: "calls", tool: "tools", cmp: "compactions", cell: "cells" };
const SEL_WORD = { call: "inference call", tool: "tool call", cmp: "compaction", cell: "code cell" };

// ``shown``: the details pane shows it (else an agent does, and is left as it is).
function reselect(sel, id, shown) {
  const list = S.m[SEL_LIST[sel.kind]];
  const i = indexById(list, id, sel.i);
  if (!shown) {  // only the list's mark moves with it (or goes)
    S.sel = i >= 0 ? { kind: sel.kind, i, key: i } : null;
    return;
  }
  if (i >= 0) return select(sel.kind, i, { keepScroll: true, fromPoll: true });
  S.sel = S.pane = null;  // the address still names it: a link to it is not rewritten
  setDetail(`<p class="muted" data-testid="selection-gone">The bundle was read again and no longer holds the ${SEL_WORD[sel.kind]} <span class=mono>${esc(id)}</span> that was selected.</p>`);
  renderList(false);
  draw();
}

// The agent whose details were shown (or that the agents tab marks) found again by its id, as
// the selection is: the old position can hold another agent after the bundle was rewritten.
function reagent(id, shown) {
  const t = indexById(S.m.threads, id, S.agentSel);
  if (t >= 0) {
    if (shown) showThread(t); else S.agentSel = t;
  } else {
    S.agentSel = null;
    if (shown) {
      S.pane = null;
      setDetail(`<p class="muted" data-testid="selection-gone">The bundle was read again and no longer holds the agent <span class=mono>${esc(id)}</span> whose details were shown.</p>`);
    }
  }
  renderList(false);
}

// Where the object ``id`` is in ``list``: at ``was`` still (a growing log keeps positions),
// elsewhere, or -1. The selection, the agent shown and the agent filtered on all ask it.
function indexById(list, id, was) {
  return list[was] && list[was].id === id ? was : list.findIndex((x) => x.id === id);
}

// A deep link that named nothing yet (a live rollout that has not recorded it) selects what it
// names once a poll brings it, once, unless the user selected something since (which drops it).
function selectPendingLink() {
  const [kind, id] = S.pendingLink;
  S.pendingLink = null;
  if (!selectLink(kind, id)) S.pendingLink = [kind, id];  // not yet: the note stays
}

function setLive(text, title) {
  const live = $("live");
  live.textContent = text;
  live.title = title;
  live.className = "live" + (text === "live" ? "" : " " + text);
}

// The server's status (the boot settings, then each poll): the badge says "stale" while the
// bundle cannot be read again (the page keeps its last state), the notice says why and what
// lenient reduction skipped.
function showStatus(st) {
  if (st.error) setLive("stale", "the bundle could not be read again: showing the last state read");
  else setLive("live", "following the bundle: the page redraws when it changes");
  showNotice(st.error, st.notes || [], 0, st.reports);
}

// The notice under the header: why the bundle could not be read (served) and what lenient
// reduction skipped (served, or a static page written with --lenient), and what the recorder
// reported at the log's end (events it dropped: the reducers skip its report, so the state
// alone reads as whole).
function showNotice(error, notes, total, reports) {
  total = total || notes.length;
  reports = reports || [];
  const key = JSON.stringify([error || null, notes, total, reports]);
  if (key === S.noticeKey) return;  // unchanged: an opened list of notes stays open
  S.noticeKey = key;
  let h = "";
  if (error) h += `<p data-testid="read-error"><b>The bundle could not be read</b> (${esc(error)}). Showing the last state that could be; it is stale.</p>`;
  if (reports.length) h += `<div data-testid="recorder-reports">${reports.map((r) => `<p><b>The recorder reported:</b> ${esc(r)}</p>`).join("")}</div>`;
  if (notes.length) {
    const shown = notes.slice(0, 100).map((n) => `<li>${esc(n)}</li>`).join("");
    const where = S.mode === "serve" ? "the terminal that runs the server lists them all" : "the terminal that wrote this page listed them all";
    const rest = total > 100 ? `<li>… and ${num(total - 100)} more (${where})</li>` : "";
    h += `<details data-testid="lenient-notes"><summary>Lenient reduction skipped ${num(total)} thing(s): this rollout may be incomplete.</summary><ul>${shown}${rest}</ul></details>`;
  }
  const box = $("notice");
  box.innerHTML = h;
  box.hidden = !h;
}

function setModel(m, first) {
  S.m = m;
  S.hay = null;
  S.newSets = new Map();
  S.byId = new Map();
  m.calls.forEach((c, i) => S.byId.set(c.id, ["call", i]));
  m.tools.forEach((t, i) => { if (!S.byId.has(t.id)) S.byId.set(t.id, ["tool", i]); });
  m.compactions.forEach((c, i) => S.byId.set(c.id, ["cmp", i]));
  m.cells.forEach((c, i) => { if (!S.byId.has(c.id)) S.byId.set(c.id, ["cell", i]); });
  S.toolCall = new Int32Array(m.tools.length).fill(-1);
  m.calls.forEach((c, i) => c.tools.forEach((t) => { S.toolCall[t] = i; }));
  S.turnCalls = m.turns.map(() => []);  // each turn's inference calls, in start order
  m.calls.forEach((c, i) => { if (S.turnCalls[c.turn]) S.turnCalls[c.turn].push(i); });
  S.prevCall = new Int32Array(m.calls.length).fill(-1);
  const last = new Map();
  m.calls.forEach((c, i) => { if (last.has(c.t)) S.prevCall[i] = last.get(c.t); last.set(c.t, i); });
  // The last time the state knows: an unfinished rollout (still recording, or killed) has no
  // end, and its open turns and calls are drawn up to this, not as slivers at their start.
  let known = 0;
  for (const k of ["threads", "turns", "calls", "tools", "ops", "cells", "compactions"]) for (const o of m[k]) known = Math.max(known, o.e != null ? o.e : o.s || 0);
  S.known = known;
  const fitted = !first && S.vx0 === 0 && S.vx1 === S.t1 * 1.02;
  buildRows();
  buildLanes();
  S.t0 = 0;
  S.t1 = Math.max(1, m.meta.end || 0, known);
  // A view left as fitted (served: the rollout grows) is fitted again; a zoomed or panned one kept.
  if (first || fitted) { S.vx0 = 0; S.vx1 = S.t1 * 1.02; }
  if (first) {
    // A few lanes need less than the default pane: give the rest to the list and details.
    const pane = $("timeline-pane"), want = S.totalH + AXIS_H + 34;
    if (want < pane.offsetHeight) pane.style.height = Math.max(150, want) + "px";
  }
  renderSummary();
  applyFilter();
  draw();
  window.__rt.stats = stats;
}

function stats() {
  const m = S.m;
  return {
    lanes: S.lanes.length, calls: m.calls.length, tools: m.tools.length, edges: m.edges.length,
    edgesDrawable: m.edges.filter((e) => e.from >= 0 && e.to >= 0).length,
    turns: m.turns.length, compactions: m.compactions.filter((c) => !c.req).length, ops: m.ops.length, cells: m.cells.length,
    items: m.items.length, listRows: S.shown.length, drawn: Object.assign({}, S.drawn),
  };
}


// --- selection and detail ----------------------------------------------------------------

function select(kind, key, opts) {
  opts = opts || {};
  const m = S.m;
  let i = typeof key === "number" ? key : -1;
  if (kind === "op") {
    const o = m.ops[i];
    if (o && o.tool >= 0) { kind = "tool"; i = o.tool; }
  }
  if (kind === "thread") return showThread(i);
  if (kind === "turn") {
    // A turn is selected through its first inference call (its conversation, the deep link);
    // a turn that made none shows its agent.
    const turn = m.turns[i], first = S.turnCalls[i] ? S.turnCalls[i][0] : undefined;
    if (first != null) { kind = "call"; i = first; } else return turn ? showThread(turn.t) : undefined;
  }
  const obj = kind === "call" ? m.calls[i] : kind === "tool" ? m.tools[i] : kind === "cmp" ? m.compactions[i] : kind === "cell" ? m.cells[i] : null;
  if (!obj) return;
  if (!opts.fromPoll) S.pendingLink = null;  // a selection made: a pending link no longer waits
  S.sel = { kind, i, key: i };
  // A followed link (opts.push) is a step the browser's Back undoes (Alt+Left: hashchange
  // selects what the address then names); a selection in the list or on the timeline is not.
  if (!opts.fromHash) history[opts.push ? "pushState" : "replaceState"](null, "", "#" + HASH_KEY[kind] + "=" + encodeURIComponent(obj.id));
  if (kind === "call") showCall(i); else if (kind === "tool") showTool(i); else if (kind === "cell") showCell(i); else showCompaction(i);
  S.pane = S.sel;  // the details pane shows the selection (not an agent)
  if (!opts.keepScroll) { revealRow(kind, i); revealBlock(obj); }
  renderList(false);
  draw();
}

function revealRow(kind, i) {
  const k = S.shown.findIndex((r) => r.kind === kind && r.i === i);
  if (k < 0) return;
  const list = $("list");
  if (k * ROW < list.scrollTop || (k + 1) * ROW > list.scrollTop + list.clientHeight) list.scrollTop = Math.max(0, k * ROW - list.clientHeight / 2);
}

function revealBlock(o) {
  const k = S.laneOf[o.t];
  if (k == null || k < 0) return;
  const h = $("timeline").clientHeight - AXIS_H;
  const top = S.laneTop[k];
  if (top < S.scrollY || top + S.lanes[k].h > S.scrollY + h) S.scrollY = Math.max(0, top - h / 3);
  if (o.s != null && (o.s < S.vx0 || o.s > S.vx1)) {
    const span = S.vx1 - S.vx0;
    S.vx0 = Math.max(0, o.s - span / 3); S.vx1 = S.vx0 + span;
  }
}


// --- wiring ------------------------------------------------------------------------------

// What the address says a selection is: #call=ID (an inference or tool call), #compaction=ID,
// #cell=ID (a code cell).
const HASH_KEY = { call: "call", tool: "call", cmp: "compaction", cell: "cell" };

function selectFromHash() {
  let h;
  try { h = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }  // a malformed link selects nothing
  const m = /^(call|tool|compaction|cell|thread)=(.+)$/s.exec(h);  // s: an id may hold CR or LF
  if (!m) return;
  if (!selectLink(m[1], m[2])) linkNotFound(m[1], m[2]);
}

// The id itself, else the id as the page and `show` print it (\u200b for a zero-width space).
function selectLink(kind, id) {
  if (selectId(kind, id)) return true;
  const raw = unspell(id);
  return raw !== id && selectId(kind, raw);
}

// A link that names nothing this rollout holds (another recording's, a mistyped id) is said:
// the page read as if there were no link at all.
const LINK_WORD = { call: "call", tool: "call", compaction: "compaction", cell: "code cell", thread: "agent" };

function linkNotFound(kind, id) {
  S.sel = S.pane = null;
  S.pendingLink = [kind, id];  // a live rollout may record it yet (poll)
  setDetail(`<p class="muted" data-testid="link-not-found">This link names a ${LINK_WORD[kind]} <span class=mono>${esc(id)}</span> that this rollout does not hold.</p>`);
  renderList(false);
  draw();
}

// The characters vis() spells, given back: "call_\\u200ba" -> "call_\u200ba" (only those it spells).
function unspell(s) {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (all, bmp, astral) => {
    const code = parseInt(bmp || astral, 16);
    if (code > 0x10FFFF) return all;
    const c = String.fromCodePoint(code);
    return vis(c) === all.replace(/[A-F]/g, (x) => x.toLowerCase()) ? c : all;
  });
}

function selectId(kind, id) {
  if (kind === "thread") { const t = S.m.threads.findIndex((x) => x.id === id || x.path === id); if (t >= 0) showThread(t); return t >= 0; }
  if (kind === "cell") {  // its id, or the call id of the exec call that started it
    let i = S.m.cells.findIndex((c) => c.id === id);
    if (i < 0) i = S.m.cells.findIndex((c) => c.call_id === id);
    if (i >= 0) select("cell", i, { fromHash: true });
    return i >= 0;
  }
  let hitId = S.byId.get(id);
  if (kind === "tool") { const i = S.m.tools.findIndex((t) => t.id === id || t.call_id === id); if (i >= 0) hitId = ["tool", i]; }
  if (!hitId && kind === "call") { const i = S.m.tools.findIndex((t) => t.call_id === id); if (i >= 0) hitId = ["tool", i]; }
  if (hitId) select(hitId[0], hitId[1], { fromHash: true });
  return Boolean(hitId);
}

function wire() {
  const tl = $("timeline");
  let drag = null, moved = false;
  tl.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, vx0: S.vx0, vx1: S.vx1, sy: S.scrollY }; moved = false; tl.classList.add("dragging"); });
  window.addEventListener("mouseup", (ev) => {
    tl.classList.remove("dragging");
    if (drag && !moved && ev.target === canvas()) {
      const r = tl.getBoundingClientRect();
      const b = hit(ev.clientX - r.left, ev.clientY - r.top);
      if (b) select(b.kind, b.i);
    }
    drag = null;
  });
  window.addEventListener("mousemove", (ev) => {
    const r = tl.getBoundingClientRect();
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
      const per = (drag.vx1 - drag.vx0) / (r.width - LABEL_W);
      S.vx0 = drag.vx0 - dx * per; S.vx1 = drag.vx1 - dx * per;
      S.scrollY = drag.sy - dy;
      draw();
      return;
    }
    const tip = $("tl-tip");
    if (ev.target !== canvas()) { tip.hidden = true; return; }
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    const b = hit(x, y);
    if (!b) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.textContent = tipText(b);
    tip.style.left = Math.min(x + 12, r.width - 300) + "px";
    tip.style.top = y + 14 + "px";
  });
  tl.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = tl.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey || ev.altKey) {
      zoomAt(ev.clientX - r.left, Math.exp(ev.deltaY * 0.002));
    } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      const per = (S.vx1 - S.vx0) / (r.width - LABEL_W), d = (ev.deltaX || ev.deltaY) * per;
      S.vx0 += d; S.vx1 += d;
    } else {
      S.scrollY += ev.deltaY;
    }
    draw();
  }, { passive: false });
  tl.addEventListener("keydown", timelineKey);
  $("zoom-in").onclick = () => { zoomAt(tl.clientWidth / 2 + LABEL_W / 2, 0.5); draw(); };
  $("zoom-out").onclick = () => { zoomAt(tl.clientWidth / 2 + LABEL_W / 2, 2); draw(); };
  $("zoom-fit").onclick = () => { S.vx0 = 0; S.vx1 = S.t1 * 1.02; S.scrollY = 0; draw(); };
  window.addEventListener("resize", () => { draw(); renderList(false); });
  let listFrame = 0;
  $("list").addEventListener("scroll", () => {
    if (!listFrame) listFrame = requestAnimationFrame(() => { listFrame = 0; renderList(false, true); });
  }, { passive: true });
  $("list").addEventListener("click", (ev) => {
    const row = ev.target.closest(".row");
    if (!row) return;
    if (row.dataset.thread != null) { showThread(+row.dataset.thread); return; }
    select(row.dataset.kind, +row.dataset.i);
  });
  $("list").addEventListener("keydown", listKey);
  let timer = null;
  const search = () => {
    clearTimeout(timer);
    const q = vis($("search").value.trim()).toLowerCase();  // a pasted U+202E finds its spelling
    // A new search starts at the top of its matches: the old scroll position could land
    // on the last of them, the first ones out of sight.
    const cleared = !q && S.query;
    if (q !== S.query) $("list").scrollTop = 0;
    S.query = q;
    applyFilter();
    // A search cleared brings the list back to the selection (a match found by it, most
    // likely): seeing what happened around it is why one clears a search.
    if (cleared && S.sel) revealRow(S.sel.kind, S.sel.i);
    if (S.sel) select(S.sel.kind, S.sel.i, { keepScroll: true });
  };
  $("search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 120); });
  // Enter: the search now, its first match selected (unless the selection is one), and the
  // list focused, where the arrow keys go through the matches.
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    search();
    if (S.tab !== "calls") document.querySelector('.tabs button[data-tab="calls"]').click();
    const first = S.shown[0], kept = S.sel && S.shown.some((r) => r.kind === S.sel.kind && r.i === S.sel.i);
    if (first && !kept) select(first.kind, first.i);
    $("list").focus();
  });
  $("only-failed").onchange = () => { S.onlyFailed = $("only-failed").checked; applyFilter(); };
  const tabs = [...document.querySelectorAll(".tabs button")];
  for (const b of tabs) {
    // a tab list: the arrow keys move between the tabs, Tab leaves it (one stop)
    b.onkeydown = (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      const other = tabs[(tabs.indexOf(b) + 1) % tabs.length];
      other.focus(); other.click();
    };
    b.onclick = () => {
      S.tab = b.dataset.tab;
      for (const o of tabs) {
        o.classList.toggle("on", o === b);
        o.setAttribute("aria-selected", String(o === b));
        o.tabIndex = o === b ? 0 : -1;
      }
      $("list").setAttribute("aria-labelledby", b.id);
      $("list").scrollTop = 0;
      if (S.tab === "calls") applyFilter(); else renderList(true);  // the calls' note again
    };
  }
  $("detail").addEventListener("click", (ev) => {
    const go = ev.target.closest("[data-go]");
    if (go) { const [kind, i] = go.dataset.go.split(":"); follow(kind, +i); return; }
    const p = ev.target.closest("[data-payload]");
    if (p) { openPayload(p.dataset.payload, p); return; }
    const ex = ev.target.closest("[data-expand]");
    if (ex) { const it = ex.closest(".item"), open = it.classList.toggle("open"); ex.textContent = open ? "show less" : "show all"; ex.setAttribute("aria-expanded", String(open)); return; }
    const f = ev.target.closest("[data-filter-thread]");
    if (f) { S.threadFilter = +f.dataset.filterThread; S.tab = "calls"; document.querySelector('.tabs button[data-tab="calls"]').click(); applyFilter(); return; }
    const more = ev.target.closest("[data-more]");
    if (more) showMore(more, 500);
  });
  // The links and buttons the details pane draws as spans answer Enter and Space as a click
  // does; the pane they were in is redrawn, so focus goes to the new pane (Tab goes on there).
  for (const box of [$("detail"), $("filter-note")]) {
    box.addEventListener("keydown", (ev) => {
      if ((ev.key !== "Enter" && ev.key !== " ") || !ev.target.matches("span[tabindex]")) return;
      ev.preventDefault();
      ev.target.click();
      if (!document.activeElement || document.activeElement === document.body) focusDetail();
    });
  }
  // Back (Alt+Left) after a followed link: what the address names again, and focus on it
  // (the element that had it was redrawn away).
  window.addEventListener("hashchange", () => {
    selectFromHash();
    if (!document.activeElement || document.activeElement === document.body) focusDetail();
  });
  document.addEventListener("keydown", pageKey);
  // the skip link focuses the list without touching the address (#list would select nothing)
  document.querySelector(".skip").onclick = (ev) => { ev.preventDefault(); $("list").focus(); };
  const split = $("splitter");
  $("detail").addEventListener("toggle", (ev) => scrollersFocusable(ev.target), true);  // a JSON opened
  split.addEventListener("keydown", (ev) => {
    const d = { ArrowUp: -20, ArrowDown: 20 }[ev.key];
    if (!d) return;
    ev.preventDefault();
    resizeTimeline($("timeline-pane").offsetHeight + d);
    renderList(false);
  });
  resizeTimeline($("timeline-pane").offsetHeight);
  split.addEventListener("mousedown", (ev) => {
    ev.preventDefault();
    const pane = $("timeline-pane"), y0 = ev.clientY, h0 = pane.offsetHeight;
    const move = (e) => { resizeTimeline(h0 + e.clientY - y0); };
    const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); renderList(false); };
    window.addEventListener("mousemove", move); window.addEventListener("mouseup", up);
  });
}


window.__rt = { ready: false, select: (id) => { const h = S.byId.get(id); if (h) select(h[0], h[1]); return !!h; },
  blockCenter: (kind, i, colour = false) => {
    // Where a block is drawn (for tests): scrolls it into view first. ``colour``: where a pixel
    // read is the block's own colour, left of a wide block's label (drawn from x0 + 3).
    const m = S.m, o = kind === "call" ? m.calls[i] : kind === "cell" ? m.cells[i] : m.tools[i];
    revealBlock(o); drawNow();
    const k = S.laneOf[o.t], L = S.lanes[k], w = $("timeline").clientWidth;
    const arr = kind === "call" ? L.calls : kind === "cell" ? L.ops : L.tools, b = arr.find((x) => x.kind === kind && x.i === i);
    const x0 = Math.max(LABEL_W, xOf(b.s, w)), x1 = Math.max(x0 + 2, xOf(b.e, w));
    return { x: Math.min((x0 + x1) / 2, x0 + (colour ? 1.5 : 4)), y: AXIS_H + S.laneTop[k] - S.scrollY + L.rowY[kind] + b.row * (BAR_H + 2) + BAR_H / 2 };
  },
  blockSpan: (kind, i) => {
    // The times a block is drawn between (for tests): an open one's end is where it is drawn to.
    for (const L of S.lanes) for (const arr of [L.turns, L.calls, L.cmps, L.tools, L.ops]) {
      const b = arr.find((x) => x.kind === kind && x.i === i);
      if (b) return { s: b.s, e: b.e };
    }
    return null;
  },
  zoom: (t0, t1) => { S.vx0 = t0; S.vx1 = t1; drawNow(); },
  view: () => [S.vx0, S.vx1, S.t1],  // the timeline's window and the rollout's span (tests)
  poll: () => poll(),  // a poll now (tests: the page polls every two seconds)
  scrollLanes: (y) => { S.scrollY = y; drawNow(); return S.scrollY; },
  threadId: (t) => (S.m.threads[t] ? S.m.threads[t].id : null),  // the agent at a position (tests)
};
// Everything start() needs is above this script; the embedded payloads below it are read
// only when one is opened, so start now instead of waiting for the whole document.
start().catch((e) => { document.body.insertAdjacentHTML("afterbegin", `<p class="note">viewer failed: ${esc(e.message || e)}</p>`); throw e; });
