// The timeline: lanes per agent, one canvas that draws only what is on screen, hit
// testing, zoom and tooltips.
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
  // An open block ends with the rollout, or, while it has no end, at the last time it knows.
  const open = m.meta.end != null ? m.meta.end : S.known || 0;
  const end = (o) => (o.e != null ? o.e : Math.max(open, o.s || 0));
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
  // Depth first with a stack of its own, not recursion: a spawn chain thousands deep would
  // overflow the script's call stack and leave the page blank.
  const order = [], seen = new Set();
  const visit = (root) => {
    const stack = [[root, 0]];
    while (stack.length) {
      const [t, depth] = stack.pop();
      if (seen.has(t)) continue;
      seen.add(t); order.push([t, depth]);
      const ks = kids.get(t) || [];
      for (let k = ks.length - 1; k >= 0; k--) stack.push([ks[k], depth + 1]);
    }
  };
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

// A failed block's striped hem, its lowest 4 px (the legend's "failed (striped)"): red alone
// does not say it to a reader who does not tell red from the other colours.
function stripes(g, x, y, width) {
  const top = y + BAR_H - 4;
  g.save();
  g.beginPath(); g.rect(x, top, width, 4); g.clip();
  g.strokeStyle = "#fff"; g.lineWidth = 1.5;
  g.beginPath();
  for (let sx = x - 4; sx < x + width; sx += 4) { g.moveTo(sx, y + BAR_H); g.lineTo(sx + 4, top); }
  g.stroke();
  g.restore();
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
    const rowKind = b.kind === "op" ? null : b.kind;  // a terminal operation has no row of its own
    const isSel = sel && sel.kind === rowKind && sel.i === b.i;
    const faded = matches && !(rowKind && matches.has(rowKind + b.i));
    const plain = !isSel && !faded && !matches && !FAILED.has(b.st);
    if (plain && xa + width <= (covered[b.row] || 0) + 0.5) continue;
    if (plain) covered[b.row] = Math.max(covered[b.row] || 0, xa + width);
    g.globalAlpha = faded ? 0.18 : 1;
    g.fillStyle = blockColor(b);
    g.fillRect(xa, y, width, BAR_H);
    if (FAILED.has(b.st)) stripes(g, xa, y, width);
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
  return m.compactions[b.i].req ? "compaction request" : "compaction";
}

const clipCache = new Map();
function clipText(g, s, max) {
  if (max <= 8) return "";
  s = vis(s);
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
  const span = S.vx1 - S.vx0, step = tickStep(span / Math.max(1, (w - LABEL_W) / 110));
  g.fillStyle = COLORS.muted;
  g.font = "11px system-ui, sans-serif";
  let ticks = 0;
  for (let t = Math.ceil(S.vx0 / step) * step, n = 0; t <= S.vx1 && n < MAX_TICKS; t += step, n++) {
    const x = xOf(t, w);
    if (x < LABEL_W) continue;
    g.fillRect(x, AXIS_H - 5, 1, 5);
    g.fillText(ms(t), x + 3, 14);
    ticks++;
  }
  S.drawn.ticks = ticks;
  g.fillStyle = COLORS.ink;
  g.font = "600 11px system-ui, sans-serif";
  g.fillText(`${S.lanes.length} ${noun(S.lanes.length, "agent")}`, 8, 15);
  g.font = "12px system-ui, sans-serif";
}

// Axis steps (ms): 1-2-5 up to seconds, then round seconds, minutes, hours, days, weeks,
// months and a year; past that, 1, 2 or 5 times a power of ten years, with no upper bound (a
// far-future timestamp makes a span of millennia). The step is the first at least ``target``
// long, so a frame draws about one tick per 110 px, never more than MAX_TICKS.
const DAY = 86400000, YEAR = 365 * DAY;
const TICK_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000,
  3600000, 7200000, 21600000, 43200000, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, YEAR];
const MAX_TICKS = 100;
function tickStep(target) {
  const found = TICK_STEPS.find((s) => s >= target);
  if (found) return found;
  for (let p = YEAR; isFinite(p); p *= 10) for (const f of [1, 2, 5, 10]) if (p * f >= target) return p * f;
  return Infinity;  // an infinite or NaN span: no ticks
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
  if (inLane < LANE_PAD + 5) {  // the turn band, above the first row of blocks
    for (const b of L.turns) if (t >= b.s - slop && t <= b.e + slop) return b;
    return null;
  }
  for (const [arr, key] of [[L.calls, "call"], [L.cmps, "cmp"], [L.tools, "tool"], [L.ops, "op"]]) {
    for (const b of arr) {
      const y0 = L.rowY[key] + b.row * (BAR_H + 2);
      if (inLane >= y0 && inLane <= y0 + BAR_H && t >= b.s - slop && t <= b.e + slop) return b;
    }
  }
  return null;
}


function zoomAt(x, f) {
  const w = $("timeline").clientWidth, t = tOf(Math.max(LABEL_W, x), w);
  const span = Math.max(0.5, Math.min(S.t1 * 4, (S.vx1 - S.vx0) * f));
  const ratio = (t - S.vx0) / (S.vx1 - S.vx0);
  S.vx0 = t - ratio * span; S.vx1 = S.vx0 + span;
}

function tipText(b) { return vis(tipRaw(b)); }
function tipRaw(b) {
  const m = S.m;
  if (b.kind === "thread") { const th = m.threads[b.i]; return laneName(b.i) + "\n" + th.id; }
  if (b.kind === "turn") {
    const o = m.turns[b.i], calls = S.turnCalls[b.i];
    const tools = calls.reduce((n, c) => n + m.calls[c].tools.length, 0);
    return `turn · ${o.st} · ${dur(o)}\n${o.id}\n${num(calls.length)} ${noun(calls.length, "inference call")} · ${num(tools)} ${noun(tools, "tool call")}` + (o.err ? "\n" + firstLine(o.err) : "");
  }
  const o = b.kind === "call" ? m.calls[b.i] : b.kind === "tool" ? m.tools[b.i] : b.kind === "op" ? m.ops[b.i] : b.kind === "cell" ? m.cells[b.i] : m.compactions[b.i];
  const what = b.kind === "call" ? "inference " + o.model : b.kind === "tool" ? "tool " + o.name : b.kind === "op" ? "terminal " + (o.command || "write_stdin") : b.kind === "cell" ? "code cell" : o.req ? "compaction request" : "compaction";
  let s = `${what} · ${o.st} · ${dur(o)}\n${o.id}`;
  if (b.kind === "call" && o.u) s += `\n${num(o.u[0])} in / ${num(o.u[2])} out tokens`;
  if (b.kind === "cell") s += "\n" + firstLine(o.source);
  return s;
}
