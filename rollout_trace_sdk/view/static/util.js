// Shared by every part of the viewer: the state object, constants and text formatting.
// The parts are concatenated into one function scope (view/html.py, script_text), in the
// order html.SCRIPTS gives: util, list, timeline, detail, app.
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
