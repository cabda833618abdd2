// The calls list: rows in start order, search and filters, the virtualized list (a pool of
// recycled row elements) and the agents tab.
// --- rows, search, filter ----------------------------------------------------------------

function buildRows() {
  const m = S.m, rows = [];
  m.calls.forEach((c, i) => rows.push({ kind: "call", i, s: c.s || 0, t: c.t, o: c }));
  m.tools.forEach((t, i) => rows.push({ kind: "tool", i, s: t.s || 0, t: t.t, o: t }));
  m.compactions.forEach((c, i) => rows.push({ kind: "cmp", i, s: c.s || 0, t: c.t, o: c }));
  m.cells.forEach((c, i) => rows.push({ kind: "cell", i, s: c.s || 0, t: c.t, o: c }));
  rows.sort((a, b) => a.s - b.s || (a.o.q || 0) - (b.o.q || 0)); // q: the start's seq
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
  const itemText = (ix) => { const it = m.items[ix]; if (it) parts.push(it.text, it.summary || "", it.id, it.call_id || "", it.p || "", it.json || ""); };
  if (row.kind === "call") {
    parts.push(o.model, o.response_id || "", o.rq || "", o.rs || "", o.err || "");
    o.resp.forEach(itemText);
    newItems(row.i).forEach(itemText);
  } else if (row.kind === "tool") {
    parts.push(o.name, o.call_id || "", o.inv || "", o.res || "", o.err || "", o.input_preview || "", o.output_preview || "", o.result || "", o.message_preview || "", o.target_agent_path || "");
    o.ci.forEach(itemText); o.oi.forEach(itemText);
    const op = o.op != null ? m.ops[o.op] : null;
    if (op) parts.push(op.id, op.command || "", op.stdin || "", op.stdout || "", op.stderr || "");
  } else if (row.kind === "cell") {
    // its source, and its status (failed, yielded: words the list column shows)
    parts.push("code cell", o.source || "", o.st || "", o.runtime || "", o.call_id || "");
    o.out.forEach(itemText);
  } else {
    parts.push("compaction", o.rq || "", o.rs || "", o.err || "");
    o.repl.forEach(itemText);
  }
  return vis(parts.join("\n")).toLowerCase();  // searched as shown: \u202e, as the page spells it
}

function applyFilter() {
  const q = S.query;
  if (q && !S.hay) S.hay = S.rows.map(haystack);
  const out = [];
  for (let k = 0; k < S.rows.length; k++) {
    const r = S.rows[k];
    if (S.onlyFailed && !FAILED.has(r.o.st)) continue;
    if (S.threadFilter >= 0 && r.t !== S.threadFilter) continue;
    if (q && findQuery(S.hay[k], q, 0) < 0) continue;
    out.push(r);
  }
  S.shown = out;
  S.match = q ? new Set(out.map((r) => r.kind + r.i)) : null;
  const notes = [];
  const n = out.length;  // "1 row matches", "2,001 rows match"
  if (q) notes.push(`${num(n)} ${noun(n, "row")} ${n === 1 ? "matches" : "match"} “${esc(q)}”`);
  if (S.threadFilter >= 0) notes.push(`agent ${esc(laneName(S.threadFilter))} <span class="link" tabindex="0" role="button" id="clear-thread" title="show every agent">✕</span>`);
  if (!q && S.threadFilter < 0) notes.push(`${num(n)} ${noun(n, "row")}`);
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
  markActive();
}

function set(obj, key, value) { if (obj[key] !== value) obj[key] = value; }

// What each kind's dot stands for, in words: its colour is not all a row says.
const KIND_WORD = { inf: "inference call", tool: "tool call", cell: "code cell", cmp: "compaction" };

// The list is a listbox whose selected row is its active descendant: a screen reader reads
// the row the arrow keys selected, while focus stays on the list.
function markActive() {
  const list = $("list"), row = $("list-sel");
  if (row && row.parentElement === list) list.setAttribute("aria-activedescendant", "list-sel");
  else list.removeAttribute("aria-activedescendant");
}

function makeRow(list) {
  const el = document.createElement("div");
  el.className = "row";
  el.setAttribute("role", "option");
  for (let c = 0; c < 7; c++) el.appendChild(document.createElement("span"));
  el.children[0].className = "num mono";
  el.children[2].appendChild(document.createElement("i"));
  // the dot said in words (an <i>: the row's spans are its columns)
  el.children[2].appendChild(document.createElement("i")).className = "sr";
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
  const picked = Boolean(sel);
  if (r.kind === "call") { name = (o.ws ? "⌕ " + num(o.ws) + " · " : "") + o.model + " · " + short(o.id); dot = "inf"; if (o.u) tokens = num(o.u[0]) + " / " + num(o.u[2]); }
  else if (r.kind === "tool") { name = o.name + (o.call_id ? " · " + o.call_id : ""); dot = "tool"; }
  else if (r.kind === "cell") { name = "code cell · " + firstLine(o.source); dot = "cell"; }
  else { name = o.req ? "compaction request · " + o.st : "compaction · " + (o.cut || o.inputs + " items → " + o.repl.length); dot = "cmp"; }
  // Only what differs from the row's previous content is written: every write dirties
  // style or layout, and a fast scroll refills twenty rows a frame.
  const c = el.children, lane = laneName(r.t);
  name = vis(name);
  set(el, "className", "row" + sel + bad);
  el.style.transform = "translateY(" + k * ROW + "px)";
  set(el.dataset, "kind", r.kind); set(el.dataset, "i", String(r.i)); set(el.dataset, "testid", "row-" + r.kind);
  set(c[0], "textContent", o.s != null ? ms(o.s) : "");
  set(c[1], "textContent", lane); set(c[1], "title", lane);
  set(c[2].firstChild, "className", "dot " + dot);
  // the dot's colour said in words (a screen reader reads the row's text as its name)
  set(c[2].lastChild, "textContent", KIND_WORD[dot]); set(c[2], "title", KIND_WORD[dot]);
  set(el, "id", picked ? "list-sel" : "");
  el.setAttribute("aria-selected", String(picked));
  set(c[3], "textContent", name); set(c[3], "title", name + webSearches(o));
  // still "running" in an ended rollout: "never ended" in the status column, said once
  set(c[4].firstChild, "className", "st " + o.st); set(c[4].firstChild, "textContent", o.ne ? "never ended" : o.st);
  set(c[4], "title", o.ne ? NEVER_ENDED + "; Codex's status: running" : "");
  set(c[5], "textContent", o.ne ? "" : dur(o));
  set(c[6], "textContent", tokens);
}

// The web searches an inference call ran on the server (its response's web_search_call
// items: no tool call records them, so they are no rows of their own), counted first on its
// row ("⌕ 2 · gpt-5 · …": the end of a long name is cut) and said in its tooltip.
function webSearches(o) {
  return o.ws ? ` (${num(o.ws)} ${o.ws === 1 ? "web search" : "web searches"} in its response)` : "";
}

// A cell's source as its row names it: the first line that says something.
function firstLine(text) {
  const line = String(text || "").split("\n").find((l) => l.trim());
  return line ? line.trim() : "(empty)";
}

// How many rows failed: the header's "N failed" and the agents' counts, each equal to what
// "failures only" lists (inference calls, tool calls, compactions and code cells).
function failedCount() {
  let n = 0;
  for (const r of S.rows) if (FAILED.has(r.o.st)) n++;
  return n;
}

function agentStats() {
  const m = S.m;
  // tokens stay null (not recorded) until one of the agent's calls has its usage: a failed
  // call, or a response a capture limit left out, used tokens nobody knows, not none
  const st = m.threads.map(() => ({ calls: 0, tools: 0, failed: 0, tin: null, tout: null, lat: 0, toolTime: 0 }));
  for (const c of m.calls) {
    const a = st[c.t]; if (!a) continue;
    a.calls++;
    if (c.u) { a.tin = (a.tin || 0) + c.u[0]; a.tout = (a.tout || 0) + c.u[2]; }
    if (c.s != null && c.e != null) a.lat += c.e - c.s;
  }
  for (const t of m.tools) {
    const a = st[t.t]; if (!a) continue;
    a.tools++;
    if (t.s != null && t.e != null) a.toolTime += t.e - t.s;
  }
  for (const r of S.rows) if (FAILED.has(r.o.st) && st[r.t]) st[r.t].failed++;
  return st;
}

function renderAgents() {
  const list = $("list"), m = S.m, st = agentStats();
  $("list-head").className = "row head agents";
  $("list-head").innerHTML = "<span>agent</span><span class=num>calls</span><span class=num>tools</span><span class=num>failed</span><span class=num>tokens in</span><span class=num>tokens out</span><span class=num>model time</span><span class=num>avg call</span>";
  const n = m.threads.length;
  $("filter-note").textContent = `${num(n)} ${noun(n, "agent")}`;  // not the calls list's count
  $("list-spacer").style.height = n * ROW + "px";
  S.spacerRows = -1; // the calls list sets its own height again
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 8);
  const last = Math.min(n, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 8);
  const html = [];
  for (let k = first; k < last; k++) {
    const a = st[k];
    const on = S.agentSel === k;
    html.push(`<div class="row agents${a.failed ? " failed" : ""}${on ? " sel" : ""}" style="top:${k * ROW}px" data-thread="${k}" data-testid="row-agent" role="option" aria-selected="${on}"${on ? ' id="list-sel"' : ""}>` +
      `<span title="${esc(laneName(k))}">${esc(laneName(k))}</span><span class=num>${a.calls}</span><span class=num>${a.tools}</span>` +
      `<span class=num>${a.failed || ""}</span><span class=num>${a.tin == null ? "-" : num(a.tin)}</span><span class=num>${a.tout == null ? "-" : num(a.tout)}</span>` +
      `<span class=num>${ms(a.lat)}</span><span class=num>${a.calls ? ms(Math.round(a.lat / a.calls)) : ""}</span></div>`);
  }
  for (const el of list.querySelectorAll(".row")) el.remove();
  S.rowEls = null;
  list.insertAdjacentHTML("beforeend", html.join(""));
  markActive();
}
