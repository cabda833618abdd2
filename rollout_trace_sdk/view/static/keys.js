// The keyboard: everything the mouse does, done without one (docs/viewing.md, Accessibility).
// The list's and the timeline's keys, the splitter's, Escape, "/" for the search, following a
// link (Back undoes it) and where focus goes once a pane is redrawn.

// A link of the details pane followed: the address changes by a history entry of its own, so
// the browser's Back (Alt+Left) comes back to what was shown before.
function follow(kind, i) {
  if (kind === "thread") {
    const th = S.m.threads[i];
    if (!th) return;
    history.pushState(null, "", "#thread=" + encodeURIComponent(th.id));
    showThread(i);
  } else select(kind, i, { push: true });
}

// Focus on what the details pane now shows (its heading: a screen reader reads what opened),
// or on the pane when it has none.
function focusDetail() {
  const h = $("detail").querySelector("h2");
  if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); } else $("detail-pane").focus({ preventScroll: true });
}

// The list: up and down select the next or previous row, Page Up and Page Down a page, Home
// and End the ends; Enter goes to the selection's details. On the agents tab the same keys
// go through the agents.
function listKey(ev) {
  const list = $("list");
  if (ev.key === "Enter") {
    if (S.tab === "agents" ? S.agentSel != null : S.sel) { ev.preventDefault(); focusDetail(); }
    return;
  }
  const page = Math.max(1, Math.floor(list.clientHeight / ROW) - 1);
  const step = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity }[ev.key];
  if (step === undefined) return;
  ev.preventDefault();
  if (S.tab === "agents") {
    const n = S.m.threads.length;
    if (!n) return;
    const k = Math.max(0, Math.min(n - 1, (S.agentSel != null ? S.agentSel : -1) + step));
    if (k * ROW < list.scrollTop || (k + 1) * ROW > list.scrollTop + list.clientHeight) list.scrollTop = Math.max(0, k * ROW - list.clientHeight / 2);
    showThread(k);
    return;
  }
  const k = S.sel ? S.shown.findIndex((r) => r.kind === S.sel.kind && r.i === S.sel.i) : -1;
  const next = S.shown[Math.max(0, Math.min(S.shown.length - 1, k + step))];
  if (next) select(next.kind, next.i);
}

// The timeline (focused): left and right pan a tenth of the view, up and down scroll the
// agents' lanes, + and - zoom at the middle, 0 shows everything (the toolbar's fit).
function timelineKey(ev) {
  const tl = $("timeline"), span = S.vx1 - S.vx0;
  const pan = { ArrowLeft: -span / 10, ArrowRight: span / 10 }[ev.key];
  const mid = tl.clientWidth / 2 + LABEL_W / 2;
  if (pan) { S.vx0 += pan; S.vx1 += pan; }
  else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") S.scrollY += ev.key === "ArrowUp" ? -40 : 40;
  else if (ev.key === "+" || ev.key === "=") zoomAt(mid, 0.5);
  else if (ev.key === "-" || ev.key === "_") zoomAt(mid, 2);
  else if (ev.key === "0") { S.vx0 = 0; S.vx1 = S.t1 * 1.02; S.scrollY = 0; }
  else return;
  ev.preventDefault();
  draw();
}

// The timeline pane's height (the splitter: dragged, or its arrow keys), said to assistive
// technology as the separator's value.
function resizeTimeline(px) {
  const pane = $("timeline-pane"), h = Math.round(Math.max(120, Math.min(px, window.innerHeight - 120)));
  pane.style.height = h + "px";
  const split = $("splitter");
  split.setAttribute("aria-valuenow", String(h));
  split.setAttribute("aria-valuemax", String(Math.max(h, window.innerHeight - 120)));
  draw();
}

// Keys the whole page answers: "/" goes to the search (not while typing), Escape closes what
// was opened: the tooltip, an opened payload (focus back on what opened it), the notes of a
// lenient reduction; from the details pane, it goes back to the list.
function pageKey(ev) {
  const at = document.activeElement;
  if (ev.key === "/" && !(at && (at.matches("input, textarea, select") || at.isContentEditable))) {
    ev.preventDefault();
    $("search").focus();
    return;
  }
  if (ev.key !== "Escape") return;
  $("tl-tip").hidden = true;
  const notes = at && at.closest("#notice details[open]");
  if (notes) { notes.open = false; notes.querySelector("summary").focus(); return; }
  if (!at || !at.closest("#detail-pane")) return;
  const view = $("payload-view"), opener = S.openedBy;
  if (view && view.childElementCount) {
    view.replaceChildren();
    if (opener && opener.isConnected) { opener.setAttribute("aria-expanded", "false"); opener.focus(); }
    S.openedBy = null;
    return;
  }
  $("list").focus();
}

// Scrolled boxes under `root` (a long payload, output or JSON) take focus, so the keyboard
// scrolls them too; only those that scroll: each one is a stop of Tab.
function scrollersFocusable(root) {
  if (!root || !root.querySelectorAll) return;
  for (const el of root.querySelectorAll("pre, details[open] .ib")) {
    if (el.scrollHeight > el.clientHeight + 1) el.tabIndex = 0;
  }
}
