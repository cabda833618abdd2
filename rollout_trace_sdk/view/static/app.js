// rollout-trace viewer: a dependency-free page over the view model (rollout_trace_sdk/view/model.py).
// The timeline is one canvas that draws only what is on screen; the calls list is virtualized;
// payload bodies are fetched (serve mode) or inflated from the page (static mode) only when opened.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const FAILED = new Set(["failed", "aborted", "cancelled"]);
  const ROW = 24;
  const OVERSCAN = 4; // rows kept beyond each edge of the list's viewport
  const LABEL_W = 190;
  const LANE_PAD = 4;
  const BAR_H = 11;
  const AXIS_H = 22;
  const COLORS = {};

  const S = {
    m: null, mode: "static", rows: [], shown: [], tab: "calls", query: "", onlyFailed: false,
    threadFilter: -1, sel: null, lanes: [], laneTop: [], totalH: 0, scrollY: 0,
    t0: 0, t1: 1, vx0: 0, vx1: 1, hay: null, toolCall: null, newSets: new Map(), version: null,
    payloadBlob: null, drawn: { blocks: 0, edges: 0 },
  };

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
      setInterval(poll, 2000);
    } else {
      model = JSON.parse($("rt-model").textContent);
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

  async function poll() {
    try {
      const r = await fetch("version", { cache: "no-store" });
      const v = await r.text();
      if (v && v !== S.version) {
        S.version = v;
        const model = await (await fetch("model.json", { cache: "no-store" })).json();
        const sel = S.sel;
        setModel(model, false);
        if (sel) select(sel.kind, sel.key, { keepScroll: true, fromPoll: true });
      }
    } catch (e) {
      $("live").textContent = "offline";
    }
  }

  function setModel(m, first) {
    S.m = m;
    S.hay = null;
    S.newSets = new Map();
    S.byId = new Map();
    m.calls.forEach((c, i) => S.byId.set(c.id, ["call", i]));
    m.tools.forEach((t, i) => { if (!S.byId.has(t.id)) S.byId.set(t.id, ["tool", i]); });
    m.compactions.forEach((c, i) => S.byId.set(c.id, ["cmp", i]));
    S.toolCall = new Int32Array(m.tools.length).fill(-1);
    m.calls.forEach((c, i) => c.tools.forEach((t) => { S.toolCall[t] = i; }));
    S.prevCall = new Int32Array(m.calls.length).fill(-1);
    const last = new Map();
    m.calls.forEach((c, i) => { if (last.has(c.t)) S.prevCall[i] = last.get(c.t); last.set(c.t, i); });
    buildRows();
    buildLanes();
    let t1 = Math.max(1, m.meta.end || 0);
    for (const k of ["threads", "calls", "tools", "ops"]) for (const o of m[k]) t1 = Math.max(t1, o.e != null ? o.e : o.s || 0);
    S.t0 = 0;
    S.t1 = t1;
    if (first) { S.vx0 = 0; S.vx1 = S.t1 * 1.02; }
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
      turns: m.turns.length, compactions: m.compactions.length, ops: m.ops.length, cells: m.cells.length,
      items: m.items.length, listRows: S.shown.length, drawn: Object.assign({}, S.drawn),
    };
  }

  // --- formatting --------------------------------------------------------------------------

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  function dur(o) {
    if (o.s == null || o.e == null) return o.st === "running" ? "running" : "";
    return ms(o.e - o.s);
  }
  function ms(v) {
    if (v < 1000) return v + " ms";
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
    return Math.floor(v / 60000) + "m " + Math.round((v % 60000) / 1000) + "s";
  }
  // One formatter for every number: toLocaleString builds a new one per call, which made
  // number formatting a third of the list's scripting time on a fast scroll.
  const NUMBER = new Intl.NumberFormat("en-US");
  const num = (n) => (n == null ? "" : NUMBER.format(n));
  function short(id) {
    if (!id) return "";
    id = String(id);
    const m = /^(conversation_item|raw_payload|terminal_operation|compaction_request):(\d+)$/.exec(id);
    if (m) return m[1].split("_")[0] + ":" + m[2];
    return id.length > 14 ? id.slice(0, 8) + "…" + id.slice(-4) : id;
  }
  function laneName(t) {
    const th = S.m.threads[t];
    if (!th) return "?";
    return th.path + (th.nick ? " (" + th.nick + ")" : "");
  }
  const stTag = (st) => `<span class="st ${esc(st)}">${esc(st)}</span>`;
  function hl(text) {
    const q = S.query;
    if (!q) return esc(text);
    const lower = text.toLowerCase();
    let out = "", i = 0, j;
    while ((j = lower.indexOf(q, i)) >= 0 && out.length < 2e6) {
      out += esc(text.slice(i, j)) + "<mark>" + esc(text.slice(j, j + q.length)) + "</mark>";
      i = j + q.length;
    }
    return out + esc(text.slice(i));
  }

  function renderSummary() {
    const m = S.m;
    const failed = m.calls.filter((c) => FAILED.has(c.st)).length + m.tools.filter((t) => FAILED.has(t.st)).length;
    let tin = 0, tout = 0;
    for (const c of m.calls) if (c.u) { tin += c.u[0]; tout += c.u[2]; }
    $("summary").innerHTML =
      `<span id="count-lanes"><b>${num(m.threads.length)}</b> agents</span> · <span id="count-calls"><b>${num(m.calls.length)}</b> inference calls</span> · ` +
      `<span id="count-tools"><b>${num(m.tools.length)}</b> tool calls</span> · <span id="count-edges"><b>${num(m.edges.length)}</b> interactions</span> · ` +
      `<b>${num(tin)}</b> in / <b>${num(tout)}</b> out tokens · ${esc(m.meta.status)}${m.meta.end != null ? " in " + ms(m.meta.end) : ""}` +
      (failed ? ` · <span class="bad" id="count-failed"><b>${failed}</b> failed</span>` : "");
    const bad = $("count-failed");
    if (bad) bad.onclick = () => { $("only-failed").checked = true; S.onlyFailed = true; applyFilter(); };
    document.title = "rollout " + short(m.meta.rollout_id) + " — " + m.threads.length + " agents";
  }

  // --- rows, search, filter ----------------------------------------------------------------

  function buildRows() {
    const m = S.m, rows = [];
    m.calls.forEach((c, i) => rows.push({ kind: "call", i, s: c.s || 0, t: c.t, o: c }));
    m.tools.forEach((t, i) => rows.push({ kind: "tool", i, s: t.s || 0, t: t.t, o: t }));
    m.compactions.forEach((c, i) => rows.push({ kind: "cmp", i, s: c.s || 0, t: c.t, o: c }));
    rows.sort((a, b) => a.s - b.s);
    S.rows = rows;
  }

  function newItems(ci) {
    let set = S.newSets.get(ci);
    if (set) return set;
    const c = S.m.calls[ci], p = S.prevCall[ci];
    const before = new Set();
    if (p >= 0) { for (const x of S.m.calls[p].req) before.add(x); for (const x of S.m.calls[p].resp) before.add(x); }
    set = new Set(c.req.filter((x) => !before.has(x)));
    S.newSets.set(ci, set);
    return set;
  }

  function haystack(row) {
    const m = S.m, o = row.o, parts = [o.id];
    const itemText = (ix) => { const it = m.items[ix]; if (it) parts.push(it.text, it.summary || "", it.id, it.call_id || ""); };
    if (row.kind === "call") {
      parts.push(o.model, o.response_id || "", o.rq || "", o.rs || "");
      o.resp.forEach(itemText);
      newItems(row.i).forEach(itemText);
    } else if (row.kind === "tool") {
      parts.push(o.name, o.call_id || "", o.input_preview || "", o.output_preview || "", o.message_preview || "", o.target_agent_path || "");
      o.ci.forEach(itemText); o.oi.forEach(itemText);
      const op = o.op != null ? m.ops[o.op] : null;
      if (op) parts.push(op.id, op.command || "", op.stdin || "", op.stdout || "", op.stderr || "");
    } else {
      parts.push("compaction");
      o.repl.forEach(itemText);
    }
    return parts.join("\n").toLowerCase();
  }

  function applyFilter() {
    const q = S.query;
    if (q && !S.hay) S.hay = S.rows.map(haystack);
    const out = [];
    for (let k = 0; k < S.rows.length; k++) {
      const r = S.rows[k];
      if (S.onlyFailed && !FAILED.has(r.o.st)) continue;
      if (S.threadFilter >= 0 && r.t !== S.threadFilter) continue;
      if (q && S.hay[k].indexOf(q) < 0) continue;
      out.push(r);
    }
    S.shown = out;
    S.match = q ? new Set(out.map((r) => r.kind + r.i)) : null;
    const notes = [];
    if (q) notes.push(`${num(out.length)} match “${esc(q)}”`);
    if (S.threadFilter >= 0) notes.push(`agent ${esc(laneName(S.threadFilter))} <span class="link" id="clear-thread">✕</span>`);
    if (!q && S.threadFilter < 0) notes.push(`${num(out.length)} rows`);
    $("filter-note").innerHTML = notes.join(" · ");
    const clear = $("clear-thread");
    if (clear) clear.onclick = () => { S.threadFilter = -1; applyFilter(); };
    renderList(true);
    draw();
  }

  // --- virtualized list --------------------------------------------------------------------

  function renderList(reset, scrolled) {
    const list = $("list");
    if (S.tab === "agents") return renderAgents();
    if (!scrolled) {
      $("list-head").className = "row head";
      $("list-head").innerHTML = "<span>start</span><span>agent</span><span></span><span>call</span><span>status</span><span class=num>time</span><span class=num>tokens in/out</span>";
    }
    const n = S.shown.length;
    if (S.spacerRows !== n) { $("list-spacer").style.height = n * ROW + "px"; S.spacerRows = n; }
    if (reset) list.scrollTop = Math.min(list.scrollTop, Math.max(0, n * ROW - list.clientHeight));
    // Read once, before any write: a read after a write would force a layout mid-frame.
    const top = list.scrollTop, height = list.clientHeight;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + height) / ROW) + OVERSCAN);
    // Row elements are recycled: a scroll refills only the rows that came into view (no
    // elements created, rows still in view untouched), so a frame costs the same on 30 rows
    // or 30,000. Anything else (filter, selection, resize) refills them all.
    if (!scrolled) for (const el of list.querySelectorAll(".row.agents")) el.remove();
    const live = S.rowEls || (S.rowEls = new Map());
    const free = [];
    for (const [k, el] of live) {
      if (!scrolled || k < first || k >= last) { free.push(el); live.delete(k); }
    }
    for (let k = first; k < last; k++) {
      if (live.has(k)) continue;
      const el = free.pop() || makeRow(list);
      fillRow(el, S.shown[k], k);
      live.set(k, el);
    }
    for (const el of free) el.remove();
  }

  function set(obj, key, value) { if (obj[key] !== value) obj[key] = value; }

  function makeRow(list) {
    const el = document.createElement("div");
    el.className = "row";
    for (let c = 0; c < 7; c++) el.appendChild(document.createElement("span"));
    el.children[0].className = "num mono";
    el.children[2].appendChild(document.createElement("i"));
    el.children[4].appendChild(document.createElement("span"));
    el.children[5].className = "num";
    el.children[6].className = "num";
    list.appendChild(el);
    return el;
  }

  function fillRow(el, r, k) {
    const o = r.o;
    const sel = S.sel && S.sel.kind === r.kind && S.sel.i === r.i ? " sel" : "";
    const bad = FAILED.has(o.st) ? " failed" : "";
    let name, dot, tokens = "";
    if (r.kind === "call") { name = o.model + " · " + short(o.id); dot = "inf"; if (o.u) tokens = num(o.u[0]) + " / " + num(o.u[2]); }
    else if (r.kind === "tool") { name = o.name + (o.call_id ? " · " + o.call_id : ""); dot = "tool"; }
    else { name = "compaction · " + o.inputs + " items → " + o.repl.length; dot = "cmp"; }
    // Only what differs from the row's previous content is written: every write dirties
    // style or layout, and a fast scroll refills twenty rows a frame.
    const c = el.children, lane = laneName(r.t);
    set(el, "className", "row" + sel + bad);
    el.style.transform = "translateY(" + k * ROW + "px)";
    set(el.dataset, "kind", r.kind); set(el.dataset, "i", String(r.i)); set(el.dataset, "testid", "row-" + r.kind);
    set(c[0], "textContent", o.s != null ? ms(o.s) : "");
    set(c[1], "textContent", lane); set(c[1], "title", lane);
    set(c[2].firstChild, "className", "dot " + dot);
    set(c[3], "textContent", name); set(c[3], "title", name);
    set(c[4].firstChild, "className", "st " + o.st); set(c[4].firstChild, "textContent", o.st);
    set(c[5], "textContent", dur(o));
    set(c[6], "textContent", tokens);
  }

  function agentStats() {
    const m = S.m;
    const st = m.threads.map(() => ({ calls: 0, tools: 0, failed: 0, tin: 0, tout: 0, lat: 0, toolTime: 0 }));
    for (const c of m.calls) {
      const a = st[c.t]; if (!a) continue;
      a.calls++; if (FAILED.has(c.st)) a.failed++;
      if (c.u) { a.tin += c.u[0]; a.tout += c.u[2]; }
      if (c.s != null && c.e != null) a.lat += c.e - c.s;
    }
    for (const t of m.tools) {
      const a = st[t.t]; if (!a) continue;
      a.tools++; if (FAILED.has(t.st)) a.failed++;
      if (t.s != null && t.e != null) a.toolTime += t.e - t.s;
    }
    return st;
  }

  function renderAgents() {
    const list = $("list"), m = S.m, st = agentStats();
    $("list-head").className = "row head agents";
    $("list-head").innerHTML = "<span>agent</span><span class=num>calls</span><span class=num>tools</span><span class=num>failed</span><span class=num>tokens in</span><span class=num>tokens out</span><span class=num>model time</span><span class=num>avg call</span>";
    const n = m.threads.length;
    $("list-spacer").style.height = n * ROW + "px";
    S.spacerRows = -1; // the calls list sets its own height again
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 8);
    const last = Math.min(n, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 8);
    const html = [];
    for (let k = first; k < last; k++) {
      const a = st[k];
      html.push(`<div class="row agents${a.failed ? " failed" : ""}" style="top:${k * ROW}px" data-thread="${k}" data-testid="row-agent">` +
        `<span title="${esc(laneName(k))}">${esc(laneName(k))}</span><span class=num>${a.calls}</span><span class=num>${a.tools}</span>` +
        `<span class=num>${a.failed || ""}</span><span class=num>${num(a.tin)}</span><span class=num>${num(a.tout)}</span>` +
        `<span class=num>${ms(a.lat)}</span><span class=num>${a.calls ? ms(Math.round(a.lat / a.calls)) : ""}</span></div>`);
    }
    for (const el of list.querySelectorAll(".row")) el.remove();
    S.rowEls = null;
    list.insertAdjacentHTML("beforeend", html.join(""));
  }

  // --- timeline ----------------------------------------------------------------------------

  function pack(blocks) {
    // Greedy interval packing: overlapping blocks (parallel tool calls) get their own rows.
    blocks.sort((a, b) => a.s - b.s);
    const ends = [];
    for (const b of blocks) {
      let r = 0;
      while (r < ends.length && ends[r] > b.s) r++;
      b.row = r;
      ends[r] = Math.max(b.e, b.s + 0.0001);
    }
    return Math.max(1, ends.length);
  }

  function buildLanes() {
    const m = S.m;
    const lanes = m.threads.map((th, t) => ({ t, turns: [], calls: [], tools: [], ops: [], cmps: [] }));
    const end = (o) => (o.e != null ? o.e : (m.meta.end || o.s || 0));
    const add = (arr, o, kind, i) => { if (o.t >= 0 && o.t < lanes.length && o.s != null) lanes[o.t][arr].push({ s: o.s, e: end(o), kind, i, st: o.st }); };
    m.turns.forEach((o, i) => add("turns", o, "turn", i));
    m.calls.forEach((o, i) => add("calls", o, "call", i));
    m.tools.forEach((o, i) => add("tools", o, "tool", i));
    m.ops.forEach((o, i) => add("ops", o, "op", i));
    m.cells.forEach((o, i) => add("ops", o, "cell", i));
    m.compactions.forEach((o, i) => add("cmps", o, "cmp", i));
    // Lanes in tree order: each agent under the one that spawned it.
    const kids = new Map();
    m.threads.forEach((th, t) => { const p = th.parent; if (!kids.has(p)) kids.set(p, []); kids.get(p).push(t); });
    const order = [], seen = new Set();
    const visit = (t, depth) => { if (seen.has(t)) return; seen.add(t); order.push([t, depth]); for (const k of kids.get(t) || []) visit(k, depth + 1); };
    for (const t of kids.get(-1) || []) visit(t, 0);
    m.threads.forEach((th, t) => visit(t, 0));
    S.lanes = order.map(([t, depth]) => {
      const L = lanes[t];
      L.depth = depth;
      L.calls.sort((a, b) => a.s - b.s);
      L.cmps.sort((a, b) => a.s - b.s);
      L.callRows = pack(L.calls.concat(L.cmps));
      L.toolRows = pack(L.tools);
      L.opRows = L.ops.length ? pack(L.ops) : 0;
      L.h = LANE_PAD * 2 + 5 + (L.callRows + L.toolRows + L.opRows) * (BAR_H + 2) + 2;
      return L;
    });
    // The longest block bounds how far left of the view a visible block can start.
    let maxDur = 0;
    for (const L of S.lanes) for (const arr of [L.calls, L.cmps, L.tools, L.ops]) for (const b of arr) maxDur = Math.max(maxDur, b.e - b.s);
    S.maxDur = maxDur;
    S.laneOf = new Int32Array(m.threads.length).fill(-1);
    let y = 0;
    S.laneTop = S.lanes.map((L, k) => { S.laneOf[L.t] = k; const top = y; y += L.h; return top; });
    S.totalH = y;
    for (const L of S.lanes) {
      const y0 = LANE_PAD + 5;
      L.rowY = { call: y0, cmp: y0, tool: y0 + L.callRows * (BAR_H + 2), op: y0 + (L.callRows + L.toolRows) * (BAR_H + 2) };
      L.rowY.cell = L.rowY.op;
    }
  }

  const canvas = () => $("tl-canvas");
  function xOf(t, w) { return LABEL_W + ((t - S.vx0) / (S.vx1 - S.vx0)) * (w - LABEL_W); }
  function tOf(x, w) { return S.vx0 + ((x - LABEL_W) / (w - LABEL_W)) * (S.vx1 - S.vx0); }

  let drawPending = false;
  function draw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawNow(); });
  }

  function blockColor(b) {
    if (FAILED.has(b.st)) return COLORS.fail;
    return { call: COLORS.inf, tool: COLORS.tool, op: COLORS.op, cell: COLORS.op, cmp: COLORS.cmp }[b.kind];
  }

  function drawNow() {
    const cv = canvas(), box = $("timeline");
    const dpr = window.devicePixelRatio || 1;
    const w = box.clientWidth, h = box.clientHeight;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) { cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr); }
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "12px system-ui, sans-serif";
    S.scrollY = Math.max(0, Math.min(S.scrollY, Math.max(0, S.totalH - (h - AXIS_H))));
    const sel = S.sel;
    let blocks = 0;
    // lanes
    const first = lowerBound(S.laneTop, S.scrollY) - 1;
    for (let k = Math.max(0, first); k < S.lanes.length; k++) {
      const top = AXIS_H + S.laneTop[k] - S.scrollY;
      if (top > h) break;
      const L = S.lanes[k];
      if (top + L.h < AXIS_H) continue;
      const dim = S.threadFilter >= 0 && S.threadFilter !== L.t;
      g.globalAlpha = dim ? 0.35 : 1;
      g.fillStyle = k % 2 ? "#fafbfc" : "#ffffff";
      g.fillRect(0, top, w, L.h);
      g.strokeStyle = "#eef0f4";
      g.beginPath(); g.moveTo(0, top + L.h - 0.5); g.lineTo(w, top + L.h - 0.5); g.stroke();
      // turns: a thin band at the top of the lane
      for (const b of L.turns) {
        const x0 = xOf(b.s, w), x1 = xOf(b.e, w);
        if (x1 < LABEL_W || x0 > w) continue;
        g.fillStyle = FAILED.has(b.st) ? COLORS.fail : COLORS.turn;
        g.fillRect(Math.max(LABEL_W, x0), top + 2, Math.max(1.5, x1 - Math.max(LABEL_W, x0)), 4);
      }
      for (const [arr, key] of [[L.calls, "call"], [L.cmps, "cmp"], [L.tools, "tool"], [L.ops, "op"]]) {
        blocks += drawBlocks(g, arr, top + L.rowY[key], w, sel);
      }
      g.globalAlpha = 1;
      // label column
      g.fillStyle = k % 2 ? "#f4f6f9" : "#f9fafb";
      g.fillRect(0, top, LABEL_W, L.h);
      const th = S.m.threads[L.t];
      g.fillStyle = FAILED.has(th.st) ? COLORS.fail : COLORS.ink;
      const indent = 8 + Math.min(L.depth, 6) * 10;
      g.fillText(clipText(g, th.path || "?", LABEL_W - indent - 6), indent, top + 15);
      if (th.nick && L.h > 26) {
        g.fillStyle = COLORS.muted;
        g.fillText(clipText(g, th.nick, LABEL_W - indent - 6), indent, top + 29);
      }
    }
    g.strokeStyle = COLORS.line;
    g.beginPath(); g.moveTo(LABEL_W + 0.5, AXIS_H); g.lineTo(LABEL_W + 0.5, h); g.stroke();
    S.drawn.edges = drawEdges(g, w, h);
    S.drawn.blocks = blocks;
    drawAxis(g, w);
  }

  function drawBlocks(g, arr, y0, w, sel) {
    // Blocks are sorted by start (pack() sorted them), so the first one that can be on screen
    // is found by bisection, and the loop stops at the first that starts past the right edge.
    // Zoomed out, thousands of blocks share a pixel: a plain block that adds no new pixel to
    // its row is skipped (failed, selected and search-matched ones are always drawn).
    let n = 0;
    const matches = S.match;
    const tLeft = tOf(LABEL_W, w) - (S.maxDur || 0), tRight = tOf(w, w);
    let lo = 0, hi = arr.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].s < tLeft) lo = mid + 1; else hi = mid; }
    const covered = [];
    for (let k = lo; k < arr.length; k++) {
      const b = arr[k];
      if (b.s > tRight) break;
      const x0 = xOf(b.s, w), x1 = xOf(b.e, w);
      if (x1 < LABEL_W) continue;
      const y = y0 + b.row * (BAR_H + 2);
      const xa = Math.max(LABEL_W, x0), width = Math.max(2, x1 - xa);
      const rowKind = b.kind === "call" ? "call" : b.kind === "tool" ? "tool" : b.kind === "cmp" ? "cmp" : null;
      const isSel = sel && sel.kind === rowKind && sel.i === b.i;
      const faded = matches && !(rowKind && matches.has(rowKind + b.i));
      const plain = !isSel && !faded && !matches && !FAILED.has(b.st);
      if (plain && xa + width <= (covered[b.row] || 0) + 0.5) continue;
      if (plain) covered[b.row] = Math.max(covered[b.row] || 0, xa + width);
      g.globalAlpha = faded ? 0.18 : 1;
      g.fillStyle = blockColor(b);
      g.fillRect(xa, y, width, BAR_H);
      if (isSel) {
        g.strokeStyle = "#111"; g.lineWidth = 2; g.strokeRect(xa - 1, y - 1, width + 2, BAR_H + 2); g.lineWidth = 1;
      }
      if (width > 60) {
        g.fillStyle = "#fff";
        g.fillText(clipText(g, blockLabel(b), width - 6), xa + 3, y + BAR_H - 2);
      }
      n++;
    }
    g.globalAlpha = 1;
    return n;
  }

  function blockLabel(b) {
    const m = S.m;
    if (b.kind === "call") return m.calls[b.i].model;
    if (b.kind === "tool") return m.tools[b.i].name;
    if (b.kind === "op") { const o = m.ops[b.i]; return o.command || ("stdin " + JSON.stringify(o.stdin || "")); }
    if (b.kind === "cell") return "code cell";
    return "compaction";
  }

  const clipCache = new Map();
  function clipText(g, s, max) {
    if (max <= 8) return "";
    const key = s + "|" + Math.round(max);
    let v = clipCache.get(key);
    if (v != null) return v;
    v = s;
    if (g.measureText(v).width > max) {
      let lo = 0, hi = s.length;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (g.measureText(s.slice(0, mid) + "…").width <= max) lo = mid; else hi = mid - 1; }
      v = s.slice(0, lo) + "…";
    }
    if (clipCache.size > 5000) clipCache.clear();
    clipCache.set(key, v);
    return v;
  }

  function laneCenter(t) {
    const k = S.laneOf[t];
    if (k < 0) return null;
    return AXIS_H + S.laneTop[k] - S.scrollY + 16;
  }

  function drawEdges(g, w, h) {
    let n = 0;
    g.save();
    g.beginPath(); g.rect(LABEL_W, AXIS_H, w - LABEL_W, h - AXIS_H); g.clip();
    for (const e of S.m.edges) {
      if (e.from < 0 || e.to < 0 || e.s == null) continue;
      const xa = xOf(e.s, w), xb = xOf(e.e != null ? e.e : e.s, w);
      if (Math.max(xa, xb) < LABEL_W - 20 || Math.min(xa, xb) > w + 20) continue;
      const ya = laneCenter(e.from), yb = laneCenter(e.to);
      if (ya == null || yb == null) continue;
      const inA = ya >= AXIS_H && ya <= h, inB = yb >= AXIS_H && yb <= h;
      if (!inA && !inB) continue;
      const selected = S.sel && S.sel.kind === "tool" && e.tool === S.sel.i;
      g.strokeStyle = COLORS.edge;
      g.globalAlpha = selected ? 1 : 0.6;
      g.lineWidth = selected ? 2.5 : 1.2;
      g.beginPath();
      if (!(inA && inB)) {
        // One end is scrolled away: a short stub pointing towards it, not a line across the view.
        const [x, y, other] = inA ? [xa, ya, yb] : [xb, yb, ya];
        const d = other > y ? 1 : -1;
        g.moveTo(x, y); g.lineTo(x, y + 14 * d); g.stroke();
        g.beginPath(); g.arc(x, y + 14 * d, 2, 0, 6.3); g.fillStyle = COLORS.edge; g.fill();
        n++;
        continue;
      }
      g.moveTo(xa, ya);
      const mid = (ya + yb) / 2;
      g.bezierCurveTo(xa + 14, mid, xb - 14, mid, xb, yb);
      g.stroke();
      // arrow head at the target
      const dir = yb >= ya ? 1 : -1;
      g.fillStyle = COLORS.edge;
      g.beginPath(); g.moveTo(xb, yb); g.lineTo(xb - 4, yb - 6 * dir); g.lineTo(xb + 4, yb - 6 * dir); g.fill();
      n++;
    }
    g.restore();
    g.globalAlpha = 1; g.lineWidth = 1;
    return n;
  }

  function drawAxis(g, w) {
    g.fillStyle = "#fff";
    g.fillRect(0, 0, w, AXIS_H);
    g.strokeStyle = COLORS.line;
    g.beginPath(); g.moveTo(0, AXIS_H - 0.5); g.lineTo(w, AXIS_H - 0.5); g.stroke();
    const span = S.vx1 - S.vx0, target = span / Math.max(1, (w - LABEL_W) / 110);
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
    const step = steps.find((s) => s >= target) || 3600000;
    g.fillStyle = COLORS.muted;
    g.font = "11px system-ui, sans-serif";
    for (let t = Math.ceil(S.vx0 / step) * step; t <= S.vx1; t += step) {
      const x = xOf(t, w);
      if (x < LABEL_W) continue;
      g.fillRect(x, AXIS_H - 5, 1, 5);
      g.fillText(ms(t), x + 3, 14);
    }
    g.fillStyle = COLORS.ink;
    g.font = "600 11px system-ui, sans-serif";
    g.fillText(`${S.lanes.length} agents`, 8, 15);
    g.font = "12px system-ui, sans-serif";
  }

  function lowerBound(arr, v) { let lo = 0, hi = arr.length; while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] <= v) lo = mid + 1; else hi = mid; } return lo; }

  function hit(x, y) {
    const w = $("timeline").clientWidth;
    const ly = y - AXIS_H + S.scrollY;
    if (y < AXIS_H) return null;
    const k = lowerBound(S.laneTop, ly) - 1;
    const L = S.lanes[k];
    if (!L) return null;
    if (x < LABEL_W) return { kind: "thread", i: L.t };
    const inLane = ly - S.laneTop[k];
    const slop = 3 * (S.vx1 - S.vx0) / (w - LABEL_W);
    const t = tOf(x, w);
    for (const [arr, key] of [[L.calls, "call"], [L.cmps, "cmp"], [L.tools, "tool"], [L.ops, "op"]]) {
      for (const b of arr) {
        const y0 = L.rowY[key] + b.row * (BAR_H + 2);
        if (inLane >= y0 && inLane <= y0 + BAR_H && t >= b.s - slop && t <= b.e + slop) return b;
      }
    }
    return null;
  }

  // --- selection and detail ----------------------------------------------------------------

  function select(kind, key, opts) {
    opts = opts || {};
    const m = S.m;
    let i = typeof key === "number" ? key : -1;
    if (kind === "op" || kind === "cell") {
      const o = kind === "op" ? m.ops[i] : null;
      if (o && o.tool >= 0) { kind = "tool"; i = o.tool; }
      else if (kind === "cell") { return showCell(i); }
    }
    if (kind === "thread") return showThread(i);
    const obj = kind === "call" ? m.calls[i] : kind === "tool" ? m.tools[i] : kind === "cmp" ? m.compactions[i] : null;
    if (!obj) return;
    S.sel = { kind, i, key: i };
    if (!opts.fromHash) history.replaceState(null, "", "#" + (kind === "cmp" ? "compaction" : "call") + "=" + encodeURIComponent(obj.id));
    if (kind === "call") showCall(i); else if (kind === "tool") showTool(i); else showCompaction(i);
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

  function threadLink(t) { return `<span class="link" data-go="thread:${t}">${esc(laneName(t))}</span>`; }
  function callLink(i) { const c = S.m.calls[i]; return c ? `<span class="link" data-go="call:${i}">${esc(c.model)} ${esc(short(c.id))}</span>` : ""; }
  function toolLink(i) { const t = S.m.tools[i]; return t ? `<span class="link" data-go="tool:${i}">${esc(t.name)} ${esc(t.call_id || short(t.id))}</span>` : ""; }
  function payloadBtn(id, label) { return id ? `<button class="btn" data-payload="${esc(id)}">${esc(label)}</button>` : ""; }
  function kv(rows) { return "<dl class=kv>" + rows.filter((r) => r[1] !== "" && r[1] != null).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("") + "</dl>"; }

  function producerHtml(it) {
    if (!it.by) return "";
    return it.by.map(([type, ref]) => {
      if (type === "inference" && typeof ref === "number") return "from " + callLink(ref);
      if (type === "tool" && typeof ref === "number") return "from " + toolLink(ref);
      return esc(type.replace("_", " "));
    }).join(", ");
  }

  function itemHtml(ix, cls, tags) {
    const it = S.m.items[ix];
    if (!it) return "";
    const text = it.summary ? it.summary + (it.text ? "\n\n" + it.text : "") : it.text;
    const longText = text.split("\n").length > 10 || text.length > 1200;
    const extra = [it.kind !== "message" ? it.kind.replace(/_/g, " ") : "", it.ch || "", it.call_id || "", it.from ? it.from + " → " + it.to : ""].filter(Boolean).join(" · ");
    return `<div class="item ${cls}" data-item="${ix}" id="item-${ix}"><div class="ih"><span class="role ${esc(it.role)}">${esc(it.role)}</span>` +
      `<span>${esc(extra)}</span>${tags || ""}<span class="spacer"></span><span>${producerHtml(it)}</span><span class="mono" title="${esc(it.id)}">${esc(short(it.id))}</span></div>` +
      `<div class="ib">${hl(text) || '<span class="muted">(empty)</span>'}</div>` + (longText ? `<div class="more"><span class="link" data-expand="1">show all</span></div>` : "") + `</div>`;
  }

  const CHUNK = 150;
  function itemList(ids, clsOf, tagOf) {
    const head = ids.slice(0, CHUNK).map((ix) => itemHtml(ix, clsOf(ix), tagOf(ix))).join("");
    const rest = ids.length - CHUNK;
    return `<div class="items">${head}</div>` + (rest > 0 ? `<p><span class="btn" data-more="${CHUNK}">show ${rest} more items</span></p>` : "");
  }

  function usageHtml(u) {
    if (!u) return "";
    return `${num(u[0])} in (${num(u[1])} cached) · ${num(u[2])} out (${num(u[3])} reasoning)`;
  }

  function showCall(i) {
    const m = S.m, c = m.calls[i], fresh = newItems(i);
    const turn = m.turns[c.turn];
    let h = `<h2><i class="dot inf"></i>Inference call ${stTag(c.st)}</h2>`;
    h += kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)], ["model", esc(c.model) + " · " + esc(c.provider)],
      ["latency", dur(c)], ["tokens", usageHtml(c.u)], ["turn", turn ? `<span class=mono>${esc(short(turn.id))}</span>` : ""],
      ["response", c.response_id ? `<span class=mono>${esc(c.response_id)}</span>` : ""],
      ["started tools", c.tools.map(toolLink).join(", ")], ["previous call", S.prevCall[i] >= 0 ? callLink(S.prevCall[i]) : "(first in this agent)"]]);
    if (FAILED.has(c.st)) h += `<div class="error-box"><b>${esc(c.st)}</b>: the call did not complete. The raw response (if any) holds the provider's error.</div>`;
    h += `<p>${payloadBtn(c.rq, "raw request")}${payloadBtn(c.rs, "raw response")}</p><div id="payload-view"></div>`;
    const onlyNew = S.onlyNew;
    const reqIds = onlyNew ? c.req.filter((x) => fresh.has(x)) : c.req;
    h += `<h3>Conversation the model saw · ${c.req.length} items, ${fresh.size} new in this request <label class="check" style="display:inline-flex"><input type="checkbox" id="only-new"${onlyNew ? " checked" : ""}>only new</label></h3>`;
    h += `<div data-list="req">` + itemList(reqIds, (ix) => (fresh.has(ix) ? "new" : ""), (ix) => (fresh.has(ix) ? '<span class="tag new">new</span>' : "")) + "</div>";
    h += `<h3>Response · ${c.resp.length} items</h3>`;
    h += itemList(c.resp, () => "resp", () => "");
    setDetail(h, { list: reqIds, cls: (ix) => (fresh.has(ix) ? "new" : ""), tag: (ix) => (fresh.has(ix) ? '<span class="tag new">new</span>' : "") });
    const box = $("only-new");
    if (box) box.onchange = () => { S.onlyNew = box.checked; showCall(i); };
  }

  function errorText(t) {
    const m = S.m, parts = [];
    for (const ix of t.oi) if (m.items[ix] && m.items[ix].text) parts.push(m.items[ix].text);
    if (t.output_preview) parts.push(t.output_preview);
    const op = t.op != null ? m.ops[t.op] : null;
    if (op && op.stderr) parts.push(op.stderr);
    return parts.join("\n") || "(no error text was recorded)";
  }

  function showTool(i) {
    const m = S.m, t = m.tools[i];
    let h = `<h2><i class="dot tool"></i>${esc(t.name)} ${stTag(t.st)}</h2>`;
    const caller = S.toolCall[i];
    h += kv([["tool call id", `<span class=mono>${esc(t.id)}</span>`], ["model call id", t.call_id ? `<span class=mono>${esc(t.call_id)}</span>` : ""],
      ["agent", threadLink(t.t)], ["duration", dur(t)], ["started by", caller >= 0 ? callLink(caller) : t.cell != null ? "a code cell" : ""],
      ["target agent", esc(t.target_agent_path || "")], ["mcp call", esc(t.mcp_call_id || "")]]);
    if (FAILED.has(t.st)) h += `<div class="error-box" data-testid="error"><b>${esc(t.st)}</b><pre class="err">${esc(errorText(t))}</pre></div>`;
    const args = t.ci.map((ix) => m.items[ix] && m.items[ix].text).filter(Boolean).join("\n");
    h += `<h3>Arguments</h3><pre data-testid="tool-args">${hl(args || t.input_preview || t.message_preview || "(none recorded)")}</pre>`;
    const out = t.oi.map((ix) => m.items[ix] && m.items[ix].text).filter(Boolean).join("\n");
    h += `<h3>Result</h3><pre data-testid="tool-output" class="${FAILED.has(t.st) ? "err" : ""}">${hl(out || t.output_preview || (t.st === "running" ? "(running)" : "(no model-visible output)"))}</pre>`;
    const op = t.op != null ? m.ops[t.op] : null;
    if (op) {
      h += `<h3>Terminal operation · ${esc(op.kind)}</h3>` + kv([["operation", `<span class=mono>${esc(op.id)}</span>`], ["terminal", `<span class=mono>${esc(op.terminal || "")}</span>`],
        ["command", op.command ? `<span class=mono>${esc(op.command)}</span>` : ""], ["cwd", esc(op.cwd || "")], ["stdin", op.stdin != null ? `<span class=mono>${esc(JSON.stringify(op.stdin))}</span>` : ""],
        ["exit code", op.exit != null ? String(op.exit) : ""], ["status", stTag(op.st)], ["duration", dur(op)]]);
      if (op.stdout) h += `<pre>${hl(op.stdout)}</pre>`;
      if (op.stderr) h += `<pre class="err">${hl(op.stderr)}</pre>`;
    }
    if (t.cell != null && m.cells[t.cell]) h += `<h3>Requested by code cell</h3><pre>${esc(m.cells[t.cell].source)}</pre>`;
    if (t.starts_cell != null && m.cells[t.starts_cell]) h += `<h3>Code cell</h3><pre>${esc(m.cells[t.starts_cell].source)}</pre>`;
    const edges = m.edges.filter((e) => e.tool === i);
    if (edges.length) h += `<h3>Interactions</h3>` + edges.map((e) => `<div>${esc(e.kind.replace(/_/g, " "))} → ${e.to >= 0 ? threadLink(e.to) : esc(e.dst)}</div>`).join("");
    h += `<p>${payloadBtn(t.inv, "raw invocation")}${payloadBtn(t.res, "raw result")}</p><div id="payload-view"></div>`;
    setDetail(h);
  }

  function showCompaction(i) {
    const c = S.m.compactions[i];
    let h = `<h2><i class="dot cmp"></i>Compaction ${stTag(c.st)}</h2>`;
    h += kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)], ["duration", dur(c)], ["replaced", `${c.inputs} items with ${c.repl.length}`]]);
    h += `<p>${payloadBtn(c.rq, "raw request")}${payloadBtn(c.rs, "raw response")}</p><div id="payload-view"></div>`;
    h += `<h3>Replacement history</h3>` + itemList(c.repl, () => "", () => "");
    setDetail(h);
  }

  function showCell(i) {
    const c = S.m.cells[i];
    if (!c) return;
    let h = `<h2>Code cell ${stTag(c.st)}</h2>` + kv([["id", esc(c.id)], ["agent", threadLink(c.t)], ["runtime", esc(c.runtime)], ["duration", dur(c)], ["nested tools", c.nested.map(toolLink).join(", ")]]);
    h += `<pre>${esc(c.source)}</pre>`;
    setDetail(h);
  }

  function showThread(t) {
    const m = S.m, th = m.threads[t];
    if (!th) return;
    const a = agentStats()[t];
    let h = `<h2>${esc(th.path)} ${th.nick ? '<span class="muted">' + esc(th.nick) + "</span>" : ""} ${stTag(th.st)}</h2>`;
    h += kv([["thread id", `<span class=mono>${esc(th.id)}</span>`], ["model", esc(th.model || "")], ["spawned by", th.parent >= 0 ? threadLink(th.parent) : "(root)"],
      ["task", esc(th.task || "")], ["inference calls", `${a.calls} · ${ms(a.lat)} model time`], ["tool calls", `${a.tools} · ${ms(a.toolTime)}`],
      ["tokens", `${num(a.tin)} in · ${num(a.tout)} out`], ["failed", a.failed ? String(a.failed) : ""], ["lifetime", dur(th)]]);
    h += `<p><span class="btn" data-filter-thread="${t}">show only this agent's calls</span></p>`;
    const kids = m.threads.map((x, k) => [x, k]).filter(([x]) => x.parent === t);
    if (kids.length) h += `<h3>Sub-agents</h3>` + kids.slice(0, 300).map(([, k]) => `<div>${threadLink(k)}</div>`).join("");
    setDetail(h);
  }

  function setDetail(html, more) {
    const d = $("detail");
    d.innerHTML = html;
    d.parentElement.scrollTop = 0;
    S.more = more || null;
  }

  // --- payloads ----------------------------------------------------------------------------

  async function payloadText(id) {
    if (S.mode === "serve") {
      const r = await fetch("payload?id=" + encodeURIComponent(id));
      if (!r.ok) throw new Error((await r.text()) || r.statusText);
      return r.text();
    }
    if (!S.payloadBlob) {
      if (document.readyState === "loading") await new Promise((done) => window.addEventListener("DOMContentLoaded", done, { once: true }));
      const el = $("rt-payloads");
      S.payloadBlob = el ? JSON.parse(el.textContent) : {};
    }
    const b64 = S.payloadBlob[id];
    if (b64 == null) throw new Error(S.payloadNote || "this payload is not embedded in the page");
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).text();
  }

  async function openPayload(id, btn) {
    const view = $("payload-view");
    if (!view) return;
    const info = S.m.payloads[id];
    view.innerHTML = `<p class="muted">loading ${esc(id)}…</p>`;
    try {
      let text = await payloadText(id);
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: show as is */ }
      const cap = 400000;
      const cut = text.length > cap;
      view.innerHTML = `<h3>${esc(btn.textContent)} · ${esc(id)} · ${esc(info ? info[0] : "")} · ${num(text.length)} chars</h3><pre data-testid="payload">${esc(cut ? text.slice(0, cap) : text)}</pre>` + (cut ? `<p class="note">Showing the first ${num(cap)} characters.</p>` : "");
    } catch (e) {
      view.innerHTML = `<p class="note">${esc(id)}: ${esc(e.message || e)}</p>`;
    }
  }

  // --- wiring ------------------------------------------------------------------------------

  function selectFromHash() {
    const h = decodeURIComponent(location.hash.slice(1));
    const m = /^(call|tool|compaction|thread)=(.+)$/.exec(h);
    if (!m) return;
    if (m[1] === "thread") { const t = S.m.threads.findIndex((x) => x.id === m[2] || x.path === m[2]); if (t >= 0) showThread(t); return; }
    let hitId = S.byId.get(m[2]);
    if (m[1] === "tool") { const i = S.m.tools.findIndex((t) => t.id === m[2] || t.call_id === m[2]); if (i >= 0) hitId = ["tool", i]; }
    if (!hitId && m[1] === "call") { const i = S.m.tools.findIndex((t) => t.call_id === m[2]); if (i >= 0) hitId = ["tool", i]; }
    if (hitId) select(hitId[0], hitId[1], { fromHash: true });
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
    $("list").addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
      ev.preventDefault();
      const k = S.sel ? S.shown.findIndex((r) => r.kind === S.sel.kind && r.i === S.sel.i) : -1;
      const next = S.shown[Math.max(0, Math.min(S.shown.length - 1, k + (ev.key === "ArrowDown" ? 1 : -1)))];
      if (next) select(next.kind, next.i);
    });
    let timer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { S.query = $("search").value.trim().toLowerCase(); applyFilter(); if (S.sel) select(S.sel.kind, S.sel.i, { keepScroll: true }); }, 120);
    });
    $("only-failed").onchange = () => { S.onlyFailed = $("only-failed").checked; applyFilter(); };
    for (const b of document.querySelectorAll(".tabs button")) {
      b.onclick = () => {
        S.tab = b.dataset.tab;
        for (const o of document.querySelectorAll(".tabs button")) o.classList.toggle("on", o === b);
        $("list").scrollTop = 0;
        renderList(true);
      };
    }
    $("detail").addEventListener("click", (ev) => {
      const go = ev.target.closest("[data-go]");
      if (go) { const [kind, i] = go.dataset.go.split(":"); select(kind, +i); return; }
      const p = ev.target.closest("[data-payload]");
      if (p) { openPayload(p.dataset.payload, p); return; }
      const ex = ev.target.closest("[data-expand]");
      if (ex) { const it = ex.closest(".item"); it.classList.toggle("open"); ex.textContent = it.classList.contains("open") ? "show less" : "show all"; return; }
      const f = ev.target.closest("[data-filter-thread]");
      if (f) { S.threadFilter = +f.dataset.filterThread; S.tab = "calls"; document.querySelector('.tabs button[data-tab="calls"]').click(); applyFilter(); return; }
      const more = ev.target.closest("[data-more]");
      if (more && S.more) {
        const from = +more.dataset.more, ids = S.more.list.slice(from, from + 500);
        const box = more.closest("div[data-list]") || more.parentElement.previousElementSibling.parentElement;
        box.querySelector(".items").insertAdjacentHTML("beforeend", ids.map((ix) => itemHtml(ix, S.more.cls(ix), S.more.tag(ix))).join(""));
        const rest = S.more.list.length - from - ids.length;
        if (rest > 0) { more.dataset.more = String(from + ids.length); more.textContent = `show ${rest} more items`; } else more.parentElement.remove();
      }
    });
    window.addEventListener("hashchange", selectFromHash);
    const split = $("splitter");
    split.addEventListener("mousedown", (ev) => {
      ev.preventDefault();
      const pane = $("timeline-pane"), y0 = ev.clientY, h0 = pane.offsetHeight;
      const move = (e) => { pane.style.height = Math.max(120, h0 + e.clientY - y0) + "px"; draw(); };
      const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); renderList(false); };
      window.addEventListener("mousemove", move); window.addEventListener("mouseup", up);
    });
  }

  function zoomAt(x, f) {
    const w = $("timeline").clientWidth, t = tOf(Math.max(LABEL_W, x), w);
    const span = Math.max(0.5, Math.min(S.t1 * 4, (S.vx1 - S.vx0) * f));
    const ratio = (t - S.vx0) / (S.vx1 - S.vx0);
    S.vx0 = t - ratio * span; S.vx1 = S.vx0 + span;
  }

  function tipText(b) {
    const m = S.m;
    if (b.kind === "thread") { const th = m.threads[b.i]; return laneName(b.i) + "\n" + th.id; }
    const o = b.kind === "call" ? m.calls[b.i] : b.kind === "tool" ? m.tools[b.i] : b.kind === "op" ? m.ops[b.i] : b.kind === "cell" ? m.cells[b.i] : m.compactions[b.i];
    const what = b.kind === "call" ? "inference " + o.model : b.kind === "tool" ? "tool " + o.name : b.kind === "op" ? "terminal " + (o.command || "write_stdin") : b.kind === "cell" ? "code cell" : "compaction";
    let s = `${what} · ${o.st} · ${dur(o)}\n${o.id}`;
    if (b.kind === "call" && o.u) s += `\n${num(o.u[0])} in / ${num(o.u[2])} out tokens`;
    return s;
  }

  window.__rt = { ready: false, select: (id) => { const h = S.byId.get(id); if (h) select(h[0], h[1]); return !!h; },
    blockCenter: (kind, i) => {
      // Where a block is drawn (for tests): scrolls it into view first.
      const m = S.m, o = kind === "call" ? m.calls[i] : m.tools[i];
      revealBlock(o); drawNow();
      const k = S.laneOf[o.t], L = S.lanes[k], w = $("timeline").clientWidth;
      const arr = kind === "call" ? L.calls : L.tools, b = arr.find((x) => x.kind === kind && x.i === i);
      const x0 = Math.max(LABEL_W, xOf(b.s, w)), x1 = Math.max(x0 + 2, xOf(b.e, w));
      return { x: Math.min((x0 + x1) / 2, x0 + 4), y: AXIS_H + S.laneTop[k] - S.scrollY + L.rowY[kind] + b.row * (BAR_H + 2) + BAR_H / 2 };
    },
    zoom: (t0, t1) => { S.vx0 = t0; S.vx1 = t1; drawNow(); },
    scrollLanes: (y) => { S.scrollY = y; drawNow(); return S.scrollY; },
  };
  // Everything start() needs is above this script; the embedded payloads below it are read
  // only when one is opened, so start now instead of waiting for the whole document.
  start().catch((e) => { document.body.insertAdjacentHTML("afterbegin", `<p class="note">viewer failed: ${esc(e.message || e)}</p>`); throw e; });
})();
