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

// Bidi controls and invisible characters spelled \uNNNN (\U000NNNNN past the BMP), as `show`
// spells them (view/visible.py SPELLED; tests/view/test_visible.py checks the two agree): an
// id, a command or an argument holding U+202E would otherwise read reordered
// ("call_\u202eevil" as "call_live"), and one holding U+200B or tag characters would hide
// what it holds. Every text the page shows goes through it: esc (HTML), the rows, tooltips,
// canvas labels.
const SPELLED = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]/gu;
const spell = (c) => {
  const code = c.codePointAt(0);
  return code > 0xFFFF ? "\\U" + code.toString(16).padStart(8, "0") : "\\u" + code.toString(16).padStart(4, "0");
};
const vis = (s) => String(s == null ? "" : s).replace(SPELLED, spell);
// An attribute the page reads back (data-payload: the id it opens) keeps the text as it is.
const attr = (s) => String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const esc = (s) => attr(vis(s));
// Still "running" (Codex's status, shown as it is) in a rollout that has ended: it never
// ended (the view model's `ne`; show_format.NEVER_ENDED), said in place of a duration.
const NEVER_ENDED = "never ended (the rollout is complete)";
function dur(o) {
  if (o.ne) return NEVER_ENDED;
  if (o.s == null || o.e == null) return o.st === "running" ? "running" : "";
  return ms(o.e - o.s);
}
// A duration: 850 ms, 1.25 s, 12.5 s, 2m 5s, 3h 20m, 12d 4h. The whole value is rounded to
// the unit shown last before it is split, so 119,600 ms reads "2m 0s", never "1m 60s" (nor
// 59,960 ms "60.0 s").
function ms(v) {
  if (v < 1000) return v + " ms";
  if (v < 9995) return (v / 1000).toFixed(2) + " s";
  if (v < 59950) return (v / 1000).toFixed(1) + " s";
  const s = Math.round(v / 1000);
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  const m = Math.round(v / 60000);
  if (m < 1440) return Math.floor(m / 60) + "h " + (m % 60) + "m";
  const h = Math.round(v / 3600000);
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}
// One formatter for every number: toLocaleString builds a new one per call, which made
// number formatting a third of the list's scripting time on a fast scroll.
const NUMBER = new Intl.NumberFormat("en-US");
const num = (n) => (n == null ? "" : NUMBER.format(n));
// "1 agent", "2 agents": the noun after a count, singular for one
const noun = (n, word) => (n === 1 ? word : word + "s");
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
  return vis(th.path + (th.nick ? " (" + th.nick + ")" : ""));
}
const stTag = (st) => `<span class="st ${esc(st)}">${esc(st)}</span>`;
// Where the query occurs in text from a position on, -1 if nowhere. A query ending in an
// id's ":N" (raw_payload:14, item:3) matches that id whole: not the start of raw_payload:140.
function findQuery(text, q, from) {
  let j = text.indexOf(q, from);
  if (!/:\d+$/.test(q)) return j;
  while (j >= 0) {
    const next = text.charCodeAt(j + q.length);
    if (!(next >= 48 && next <= 57)) return j;
    j = text.indexOf(q, j + 1);
  }
  return j;
}
function hl(text) {
  const q = S.query;
  if (!q) return esc(text);
  text = vis(text);  // the query is found in the text as shown (bidi controls spelled)
  const lower = text.toLowerCase();
  let out = "", i = 0, j;
  while ((j = findQuery(lower, q, i)) >= 0 && out.length < 2e6) {
    out += attr(text.slice(i, j)) + "<mark>" + attr(text.slice(j, j + q.length)) + "</mark>";
    i = j + q.length;
  }
  return out + attr(text.slice(i));
}

// What the header's recording status means, in its tooltip: "recording unclosed" alone did not
// tell a user that a killed recorder's last events are missing, nor why.
const RECORDING_SAID = {
  unclosed: "Its recorder was killed or stopped before closing the bundle (no recording_completed at the log's end): what it wrote up to then is shown, the events after that are not in the bundle, and turns and calls left open are drawn to the last time the log knows. rollout-trace validate lists what is missing.",
  recording: "A recorder holds the log: the rollout is still being written.",
  closed_with_partial_payloads: "Capture limits (max_payload_bytes, max_bundle_bytes) cut or left out some payloads: each says so where its text would be, and a cut payload opens with the bytes that were kept.",
};

function renderSummary() {
  const m = S.m;
  const failed = failedCount();
  // no call's usage (a failed call, a response a capture limit left out) is not zero tokens
  let tin = 0, tout = 0, known = false;
  for (const c of m.calls) if (c.u) { tin += c.u[0]; tout += c.u[2]; known = true; }
  $("summary").innerHTML =
    `<span id="count-lanes"><b>${num(m.threads.length)}</b> ${noun(m.threads.length, "agent")}</span> · ` +
    `<span id="count-calls"><b>${num(m.calls.length)}</b> ${noun(m.calls.length, "inference call")}</span> · ` +
    `<span id="count-tools"><b>${num(m.tools.length)}</b> ${noun(m.tools.length, "tool call")}</span> · ` +
    `<span id="count-edges"><b>${num(m.edges.length)}</b> ${noun(m.edges.length, "interaction")}</span> · ` +
    (known ? `<b>${num(tin)}</b> in / <b>${num(tout)}</b> out tokens` : "tokens not recorded") + ` · ${esc(m.meta.status)}${m.meta.end != null ? " in " + ms(m.meta.end) : ""}` +
    // a log that never closed, or payloads a capture limit cut or left out
    (m.meta.recording && m.meta.recording !== "complete" ? ` · <span class="bad" id="recording" title="${attr(RECORDING_SAID[m.meta.recording] || "")}">${m.meta.recording === "recording" ? "still recording" : "recording " + esc(String(m.meta.recording).replace(/_/g, " "))}</span>` : "") +
    // the rollout's metadata (an episode's id, its reward), as the recorder was given it
    ((m.meta.metadata || []).length ? ` · <span id="metadata">${m.meta.metadata.map(([k, v]) => `<span class="meta-pair" title="${attr(vis(k + "=" + v))}">${esc(k)}=<b>${esc(v.length > 40 ? v.slice(0, 39) + "…" : v)}</b></span>`).join(" ")}${m.meta.metadata_more ? ` <span class="muted">+${num(m.meta.metadata_more)} more</span>` : ""}</span>` : "") +
    // what it counts, said on it: rows of the calls list (as summary's "failures (N calls …)")
    (failed ? ` · <span class="bad" id="count-failed" tabindex="0" role="button" title="${failed} failed, aborted or cancelled ${noun(failed, "call")} (inference calls, tool calls, compactions and code cells; not turns or agents, which an agent's details list): click to list them only"><b>${failed}</b> failed</span>` : "");
  const bad = $("count-failed");
  if (bad) {
    bad.onclick = () => { $("only-failed").checked = true; S.onlyFailed = true; applyFilter(); };
    bad.onkeydown = (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); bad.click(); } };
  }
  document.title = "rollout " + vis(short(m.meta.rollout_id)) + " — " + m.threads.length + " " + noun(m.threads.length, "agent");
}
