// The details pane: an inference call's conversation, a tool call, a compaction, a code cell
// or an agent; payloads opened on demand (fetched, or inflated from the page).
function threadLink(t) { return `<span class="link" tabindex="0" role="link" data-go="thread:${t}">${esc(laneName(t))}</span>`; }
function callLink(i) { const c = S.m.calls[i]; return c ? `<span class="link" tabindex="0" role="link" data-go="call:${i}">${esc(c.model)} ${esc(short(c.id))}</span>` : ""; }
function toolLink(i) { const t = S.m.tools[i]; return t ? `<span class="link" tabindex="0" role="link" data-go="tool:${i}">${esc(t.name)} ${esc(t.call_id || short(t.id))}</span>` : ""; }
function cmpLink(i) { return `<span class="link" tabindex="0" role="link" data-go="cmp:${i}">compaction ${esc(short(S.m.compactions[i].id))}</span>`; }
function cellLink(i) { return `<span class="link" tabindex="0" role="link" data-go="cell:${i}">code cell</span>`; }
function payloadBtn(id, label) { return id ? `<button class="btn" data-payload="${attr(id)}" aria-controls="payload-view" aria-expanded="false">${esc(label)}</button>` : ""; }
// Text that opens payload `id` as the payload buttons do (Tab, Enter): the id and label as the
// page reads them back (attr), `html` as shown; `extra`: more attributes.
function payloadLink(id, label, html, cls = "link", extra = "") {
  return `<span class="${cls}" tabindex="0" role="button" data-payload="${attr(id)}" data-label="${attr(label)}"${extra} title="open ${esc(id)}">${html}</span>`;
}
// A kind as words; a state file may lack it (the viewer reads it, the shape check does not
// require it).
function kindText(kind) { return typeof kind === "string" ? kind.replace(/_/g, " ") : "unknown"; }
// An item kept whole as JSON names its own kind first (a web search the model ran, read as
// words with its JSON in `json`; a hosted tool's call recorded as a custom tool call): say
// that, as `show` does.
function itemKind(it) {
  const own = /^\{"type":"([a-z0-9_]+)"/.exec(it.json || it.text || "");
  return kindText(own ? own[1] : it.kind);
}
function kv(rows) { return "<dl class=kv>" + rows.filter((r) => r[1] !== "" && r[1] != null).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("") + "</dl>"; }

// A note a capture limit left in a text ("[text: raw_payload:23, truncated: …]", a JSON
// value's " [raw_payload:10, omitted: …]", a result's "[result raw_payload:12, …]") links to
// the payload it names, opened as the payload buttons open theirs (its kept bytes, or why
// there are none).
const CUT_NOTE = /\[(?:(\w+):? )?(raw_payload:\d+), (?:truncated|omitted)\b[^\[\]\n]*\]/g;
function hlNotes(text, ix) {
  const it = ix != null ? S.m.items[ix] : null, at = { k: 0 };
  let out = "", i = 0;
  for (const mt of text.matchAll(CUT_NOTE)) {
    const info = S.m.payloads[mt[2]];
    if (!info || !info[2]) continue;  // not a payload this rollout lost part of
    out += hlImages(text.slice(i, mt.index), it, ix, at) + payloadLink(mt[2], mt[1] || "payload", hl(mt[0]));
    i = mt.index + mt[0].length;
  }
  return out + hlImages(text.slice(i), it, ix, at);
}

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
  const extra = [it.kind !== "message" ? itemKind(it) : "", it.ch || "", it.call_id || "", it.from ? it.from + " → " + it.to : ""].filter(Boolean).join(" · ");
  return `<div class="item ${cls}" data-item="${ix}" id="item-${ix}"><div class="ih"><span class="role ${esc(it.role)}">${esc(it.role)}</span>` +
    `<span>${esc(extra)}</span>${tags || ""}<span class="spacer"></span><span>${producerHtml(it)}</span><span class="mono" title="${esc(it.id)}">${esc(short(it.id))}</span></div>` +
    `<div class="ib">${hlNotes(text, ix) || '<span class="muted">(empty)</span>'}</div>` + jsonHtml(it) + thumbsHtml(it, ix) + (longText ? `<div class="more"><span class="link" tabindex="0" role="button" aria-expanded="false" data-expand="1">show all</span></div>` : "") + `</div>`;
}

// The JSON of a tool call's items read as words (a tool search and the tools it found), one
// click away under its arguments or result, as `show --full` prints it.
function rawJson(ixs) {
  const json = ixs.map((ix) => S.m.items[ix] && S.m.items[ix].json).filter(Boolean).join("\n");
  return json ? `<details class="raw" data-testid="tool-json"><summary>JSON</summary><pre>${hl(json)}</pre></details>` : "";
}

// An item read as words (a web search, a local shell call, an image generation:
// view/hosted_text.py) keeps its JSON one click away, as `show --full` prints it.
function jsonHtml(it) {
  return it.json ? `<details class="raw" data-testid="item-json"><summary>JSON</summary><div class="ib">${hl(it.json)}</div></details>` : "";
}

const CHUNK = 150;
// The lists of the pane being drawn, each with what draws its items: a "show more" button
// names its own list (a pane may hold several: request, response, replacement, outputs).
let drawnLists = [];
function itemList(ids, clsOf, tagOf) {
  const head = ids.slice(0, CHUNK).map((ix) => itemHtml(ix, clsOf(ix), tagOf(ix))).join("");
  const rest = ids.length - CHUNK;
  const k = drawnLists.push({ list: ids, cls: clsOf, tag: tagOf }) - 1;
  return `<div class="items">${head}</div>` + (rest > 0 ? `<p><span class="btn" tabindex="0" role="button" data-more="${CHUNK}" data-list-of="${k}">show ${num(rest)} more ${noun(rest, "item")}</span></p>` : "");
}

// A raw payload a capture limit cut or left out, said where its items would be (as the
// transcript says it): "[result raw_payload:42, omitted: 27,820 bytes not kept]", or "".
function lostText(label, id) {
  const info = id ? S.m.payloads[id] : null;
  return info && info[2] ? `[${label} ${id}, ${info[2]}]` : "";
}
function lostNote(label, id) {
  const text = lostText(label, id);
  return text ? `<p class="note" data-testid="lost-${label}">${esc(text)}</p>` : "";
}

function usageHtml(u) {
  if (!u) return "";
  return `${num(u[0])} in (${num(u[1])} cached) · ${num(u[2])} out (${num(u[3])} reasoning)`;
}

// Why a failed inference call or compaction request failed (its text in the log, as `show`
// prints it), or where to look when none was recorded: its raw response; "" when it did not fail.
function failureBox(o, what) {
  if (!FAILED.has(o.st)) return "";
  return o.err ? `<div class="error-box" data-testid="${what}-error"><b>${esc(o.st)}</b><pre class="err">${esc(o.err)}</pre></div>` : `<div class="error-box"><b>${esc(o.st)}</b>: the ${what} did not complete. The raw response (if any) holds the provider's error.</div>`;
}

function showCall(i) {
  const m = S.m, c = m.calls[i], fresh = newItems(i);
  const turn = m.turns[c.turn];
  let h = `<h2><i class="dot inf"></i>Inference call ${stTag(c.st)}</h2>`;
  h += kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)], ["model", esc(c.model) + " · " + esc(c.provider)],
    ["latency", dur(c)], ["tokens", usageHtml(c.u)], ["turn", turn ? `<span class=mono>${esc(short(turn.id))}</span>` : ""],
    ["response", c.response_id ? `<span class=mono>${esc(c.response_id)}</span>` : ""],
    ["started tools", c.tools.map(toolLink).join(", ")], ["previous call", S.prevCall[i] >= 0 ? callLink(S.prevCall[i]) : "(first in this agent)"]]);
  h += failureBox(c, "call");
  h += `<p>${payloadBtn(c.rq, "raw request")}${payloadBtn(c.rs, "raw response")}</p><div id="payload-view"></div>`;
  const onlyNew = S.onlyNew;
  const reqIds = onlyNew ? c.req.filter((x) => fresh.has(x)) : c.req;
  h += `<h3>Conversation the model saw · ${num(c.req.length)} ${noun(c.req.length, "item")}, ${fresh.size} new in this request <label class="check" style="display:inline-flex"><input type="checkbox" id="only-new"${onlyNew ? " checked" : ""}>only new</label></h3>`;
  if (!c.req.length) h += lostNote("request", c.rq);
  h += `<div data-list="req">` + itemList(reqIds, (ix) => (fresh.has(ix) ? "new" : ""), (ix) => (fresh.has(ix) ? '<span class="tag new">new</span>' : "")) + "</div>";
  h += `<h3>Response · ${num(c.resp.length)} ${noun(c.resp.length, "item")}</h3>`;
  if (!c.resp.length) h += lostNote("response", c.rs);
  h += itemList(c.resp, () => "resp", () => "");
  setDetail(h);
  const box = $("only-new");
  if (box) box.onchange = () => { S.onlyNew = box.checked; showCall(i); };
}

// Each place a failed tool call's error may be, each text said once: Codex's output preview is
// often its output item's text again (view_image's "unable to locate image ...").
function errorText(t) {
  const m = S.m, parts = [];
  const add = (text) => { if (text && !parts.includes(text)) parts.push(text); };
  for (const ix of t.oi) if (m.items[ix]) add(m.items[ix].text);
  add(t.output_preview);
  const op = t.op != null ? m.ops[t.op] : null;
  if (op) add(op.stderr);
  add(t.err);  // tool.failed(error): in the raw result (view/payloads.py)
  // with none, what stopped an aborted or cancelled call, as `show` and the exports say it
  // (the model's `stop`: view/item_text.py what_stopped): "aborted: its turn was interrupted"
  return parts.join("\n") || t.stop || "(no error text was recorded)";
}

// Where its output went (view/sent_in.py): the request that carried it back, its agent named
// when another agent's (a handoff), or why none did, with the compaction or code cell it went to.
function sentInHtml(t) {
  const m = S.m, c = t.so != null ? m.calls[t.so] : null;
  let h = c ? callLink(t.so) + (c.t !== t.t ? " · " + threadLink(c.t) : "") : esc(t.sn || "");
  if (t.sc != null && m.compactions[t.sc]) h += " · " + cmpLink(t.sc);
  else if (!c && t.cell != null && m.cells[t.cell]) h += " · " + cellLink(t.cell);
  return h ? `<span data-testid="sent-in">${h}</span>` : "";
}

const APPROVAL = {pending: "waiting for approval", approved: "approved", rejected: "rejected"};

function showTool(i) {
  const m = S.m, t = m.tools[i];
  let h = `<h2><i class="dot tool"></i>${esc(t.name)} ${stTag(t.st)}</h2>`;
  const caller = S.toolCall[i];
  h += kv([["tool call id", `<span class=mono>${esc(t.id)}</span>`], ["model call id", t.call_id ? `<span class=mono>${esc(t.call_id)}</span>` : ""],
    ["agent", threadLink(t.t)], ["duration", dur(t)], ["started by", caller >= 0 ? callLink(caller) : t.cell != null ? "a code cell" : ""], ["output sent in", sentInHtml(t)],
    ["target agent", esc(t.target_agent_path || "")], ["mcp call", esc(t.mcp_call_id || "")],
    // an Agents SDK approval (view/approvals.py): a call its run paused at waits, not lost
    ["approval", t.appr ? `<span data-testid="tool-approval">${esc(APPROVAL[t.appr] || t.appr)}</span>` : ""]]);
  if (FAILED.has(t.st)) h += `<div class="error-box" data-testid="error"><b>${esc(t.st)}</b><pre class="err">${esc(errorText(t))}</pre></div>`;
  const args = t.ci.map((ix) => m.items[ix] && m.items[ix].text).filter(Boolean).join("\n");
  h += `<h3>Arguments</h3><pre data-testid="tool-args">${hlNotes(args || t.input_preview || t.message_preview || "(none recorded)")}</pre>` + rawJson(t.ci);
  // each output item's text with its image parts linked, and their thumbnails under it
  const outIx = t.oi.filter((ix) => m.items[ix] && m.items[ix].text);
  const out = outIx.map((ix) => hlNotes(m.items[ix].text, ix)).join("\n");
  h += `<h3>Result</h3><pre data-testid="tool-output" class="${FAILED.has(t.st) ? "err" : ""}">${out || hlNotes(t.output_preview || t.result || lostText("result", t.res) || (t.appr === "pending" ? "(none: it is waiting for approval)" : t.ne ? "(none: it never ended)" : t.st === "running" ? "(running)" : "(no model-visible output)"))}</pre>` +
    rawJson(t.oi) + outIx.map((ix) => thumbsHtml(m.items[ix], ix)).join("");
  const op = t.op != null ? m.ops[t.op] : null;
  if (op) {
    h += `<h3>Terminal operation · ${esc(op.kind)}</h3>` + kv([["operation", `<span class=mono>${esc(op.id)}</span>`], ["terminal", `<span class=mono>${esc(op.terminal || "")}</span>`],
      ["command", op.command ? `<span class=mono>${esc(op.command)}</span>` : ""], ["cwd", esc(op.cwd || "")], ["stdin", op.stdin != null ? `<span class=mono>${esc(JSON.stringify(op.stdin))}</span>` : ""],
      ["exit code", op.exit != null ? String(op.exit) : op.lost ? `<span data-testid="lost-exit">not kept: ${hlNotes(`[${op.lost}, ${S.m.payloads[op.lost][2]}]`)}</span>` : ""], ["status", stTag(op.st)], ["duration", dur(op)]]);
    if (op.stdout) h += `<pre>${hl(op.stdout)}</pre>`;
    if (op.stderr) h += `<pre class="err">${hl(op.stderr)}</pre>`;
  }
  if (t.cell != null && m.cells[t.cell]) h += `<h3>Requested by ${cellLink(t.cell)}</h3><pre>${esc(m.cells[t.cell].source)}</pre>`;
  if (t.starts_cell != null && m.cells[t.starts_cell]) h += `<h3>${cellLink(t.starts_cell)}</h3><pre>${esc(m.cells[t.starts_cell].source)}</pre>`;
  const edges = m.edges.filter((e) => e.tool === i);
  if (edges.length) h += `<h3>Interactions</h3>` + edges.map((e) => `<div>${esc(kindText(e.kind))} → ${e.to >= 0 ? threadLink(e.to) : esc(e.dst)}</div>`).join("");
  h += `<p>${payloadBtn(t.inv, "raw invocation")}${payloadBtn(t.res, "raw result")}</p><div id="payload-view"></div>`;
  setDetail(h);
}

function showCompaction(i) {
  const c = S.m.compactions[i];
  if (c.req) {  // a request that installed nothing (failed, cancelled, retried)
    let h = `<h2><i class="dot cmp"></i>Compaction request ${stTag(c.st)}</h2>`;
    h += kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)], ["duration", dur(c)]]);
    h += failureBox(c, "request");
    h += `<p>${payloadBtn(c.rq, "raw request")}${payloadBtn(c.rs, "raw response")}</p><div id="payload-view"></div>`;
    setDetail(h);
    return;
  }
  let h = `<h2><i class="dot cmp"></i>Compaction ${stTag(c.st)}</h2>`;
  h += kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)], ["duration", dur(c)], ["replaced", c.cut ? esc(c.cut) : `${c.inputs} items with ${c.repl.length}`]]);
  h += `<p>${payloadBtn(c.rq, "raw request")}${payloadBtn(c.rs, "raw response")}</p><div id="payload-view"></div>`;
  h += `<h3>Replacement history</h3>` + itemList(c.repl, () => "", () => "");
  // What it replaced: an item said again word for word in the replacement is tagged "kept",
  // so the rest is what the agent no longer sees.
  const said = (ix) => { const it = S.m.items[ix]; return it ? it.role + "\u0000" + it.text : ""; };
  const again = new Set(c.repl.map(said));
  const tag = (ix) => (again.has(said(ix)) ? '<span class="tag kept">kept</span>' : "");
  const replaced = c.in || [];
  h += `<h3>Items it replaced · ${replaced.length}</h3><div data-list="replaced">` + itemList(replaced, () => "", tag) + "</div>";
  setDetail(h);
}

function showCell(i) {
  const m = S.m, c = m.cells[i];
  if (!c) return;
  const exec = m.tools.findIndex((t) => t.starts_cell === i);
  let h = `<h2><i class="dot cell"></i>Code cell ${stTag(c.st)}</h2>` + kv([["id", `<span class=mono>${esc(c.id)}</span>`], ["agent", threadLink(c.t)],
    ["started by", exec >= 0 ? toolLink(exec) : ""], ["runtime", esc(c.runtime)], ["duration", dur(c)], ["nested tools", c.nested.map(toolLink).join(", ")]]);
  h += `<h3>Source</h3><pre data-testid="cell-source">${hl(c.source || "")}</pre>`;
  if (FAILED.has(c.st) && !c.out.length && c.stop) h += `<div class="error-box" data-testid="error"><b>${esc(c.st)}</b><pre class="err">${esc(c.stop)}</pre></div>`;
  if (c.out.length) h += `<h3>Output · ${num(c.out.length)} ${noun(c.out.length, "item")}</h3>` + itemList(c.out, () => "", () => "");
  setDetail(h);
}

function showThread(t) {
  const m = S.m, th = m.threads[t];
  if (!th) return;
  const a = agentStats()[t];
  let h = `<h2>${esc(th.path)} ${th.nick ? '<span class="muted">' + esc(th.nick) + "</span>" : ""} ${stTag(th.st)}</h2>`;
  h += kv([["thread id", `<span class=mono>${esc(th.id)}</span>`], ["model", esc(th.model || "") + (th.mc ? ' <span class="muted">(its first inference call\'s: the thread was recorded without a model)</span>' : "")], ["spawned by", th.parent >= 0 ? threadLink(th.parent) : "(root)"],
    ["task", esc(th.task || "")], ["inference calls", `${a.calls} · ${ms(a.lat)} model time`], ["tool calls", `${a.tools} · ${ms(a.toolTime)}`],
    ["tokens", a.tin == null ? "not recorded" : `${num(a.tin)} in · ${num(a.tout)} out`], ["failed", a.failed ? String(a.failed) : ""], ["lifetime", dur(th)]]);
  h += `<p><span class="btn" tabindex="0" role="button" data-filter-thread="${t}">show only this agent's calls</span></p>`;
  // why its turns failed or were interrupted (their protocol events: view/turn_errors.py)
  // the Agents SDK guardrails its turns ran (their protocol events: view/guardrails.py)
  const guards = m.turns.filter((turn) => turn.t === t && turn.g).flatMap((turn) => turn.g);
  if (guards.length) h += `<h3>Guardrails</h3>` + guards.map(([name, tripped]) => `<div data-testid="guardrail">${tripped ? "✗" : "✓"} ${esc(name)} ${tripped ? "tripped" : "passed"}</div>`).join("");
  for (const turn of m.turns) if (turn.t === t && FAILED.has(turn.st)) h += `<div class="error-box" data-testid="turn-error"><b>turn ${esc(short(turn.id))} ${esc(turn.st)}</b>${turn.err ? `<pre class="err">${esc(turn.err)}</pre>` : ""}</div>`;
  const kids = m.threads.map((x, k) => [x, k]).filter(([x]) => x.parent === t);
  if (kids.length) h += `<h3>Sub-agents</h3>` + kids.slice(0, 300).map(([, k]) => `<div>${threadLink(k)}</div>`).join("");
  setDetail(h);
  S.pane = "agent";  // not the selection: a poll finds the agent again by its id, not the call
  S.pendingLink = null;  // shown: a deep link still waiting for its call no longer does
  S.agentSel = t;  // the agents tab marks it (and its arrow keys go on from it)
  if (S.tab === "agents") renderList(false);
}

function setDetail(html) {
  // A poll that found the log moved on (S.refresh) redraws the selected object: when its pane
  // would read the same, the pane is left as the user left it (scroll, opened payload, "show
  // all", "show more"); when it changed, it is redrawn where the user had scrolled to.
  const d = $("detail"), pane = d.parentElement;
  S.lists = drawnLists;
  drawnLists = [];
  if (S.refresh && html === S.detailHtml) return;
  const top = pane.scrollTop;
  d.innerHTML = html;
  S.detailHtml = html;
  watchThumbs(d);
  scrollersFocusable(d);
  pane.scrollTop = S.refresh ? top : 0;
  if (!S.refresh && S.query) revealMatch(d, pane);
}

// The first match of the search in a newly drawn pane, brought into view: a call found by an
// item far down its conversation otherwise showed its top, the highlight out of sight. An item
// cut to its first lines is opened when the match is below the cut.
function revealMatch(d, pane) {
  // a match past the items drawn (behind "show more"): the rest drawn up to it first
  const btn = d.querySelector("div[data-list] [data-more]");
  const of = btn && S.lists[+btn.dataset.listOf];
  if (of) {
    const k = of.list.findIndex((ix) => itemMatches(ix));
    if (k >= +btn.dataset.more) showMore(btn, k + 1 - +btn.dataset.more);
  }
  const mark = d.querySelector("mark");
  if (!mark) return;
  const raw = mark.closest("details");
  if (raw) raw.open = true;  // found in an item's JSON (a web search's: "open_page", its id)
  const body = mark.closest(".ib"), item = mark.closest(".item");
  // laid out now (content-visibility would size it by its estimate until the next frame)
  if (item) item.style.contentVisibility = "visible";
  if (body && item && !item.classList.contains("open") && mark.getBoundingClientRect().bottom > body.getBoundingClientRect().top + body.clientHeight) {
    item.classList.add("open");
    const ex = item.querySelector("[data-expand]");
    if (ex) { ex.textContent = "show less"; ex.setAttribute("aria-expanded", "true"); }
  }
  const at = mark.getBoundingClientRect(), box = pane.getBoundingClientRect();
  if (at.top < box.top || at.bottom > box.bottom) pane.scrollTop += at.top - box.top - pane.clientHeight / 3;
}

// Whether the search finds item `ix`'s text as the pane shows it (hl's rule).
function itemMatches(ix) {
  const it = S.m.items[ix];
  if (!it) return false;
  const text = it.summary ? it.summary + (it.text ? "\n\n" + it.text : "") : it.text;
  return findQuery(vis(text).toLowerCase(), S.query, 0) >= 0;
}

// "show more": `count` more items of the button's own list drawn in the list it closes (the
// items just above it), the button then counting what is left (or gone).
function showMore(btn, count) {
  const of = S.lists && S.lists[+btn.dataset.listOf];
  if (!of) return;
  const from = +btn.dataset.more, ids = of.list.slice(from, from + count);
  const box = btn.parentElement.previousElementSibling;
  box.insertAdjacentHTML("beforeend", ids.map((ix) => itemHtml(ix, of.cls(ix), of.tag(ix))).join(""));
  watchThumbs(box);
  const rest = of.list.length - from - ids.length;
  if (rest > 0) { btn.dataset.more = String(from + ids.length); btn.textContent = `show ${num(rest)} more ${noun(rest, "item")}`; } else btn.parentElement.remove();
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
  // what opened it says so, and Escape gives it focus back (keys.js pageKey)
  if (S.openedBy && S.openedBy !== btn && S.openedBy.isConnected) S.openedBy.setAttribute("aria-expanded", "false");
  S.openedBy = btn;
  btn.setAttribute("aria-expanded", "true");
  if (btn.dataset.label) view.scrollIntoView({ block: "nearest" });  // opened from a note in a text
  try {
    const body = await parsedPayload(id);
    const pic = payloadImageBox(await payloadImage(id, body.value, btn), btn.dataset.label || "image");
    const text = body.value === undefined ? body.text : JSON.stringify(body.value, null, 2);  // not JSON: as is
    const cap = 400000;
    const cut = text.length > cap;
    const lost = info && info[2] ? `<p class="note" data-testid="capture">${esc(id)} was not recorded whole (${esc(info[2])})</p>` : "";
    const where = info && info[0] ? ` · <span class="verbatim">${esc(info[0])}</span>` : "";  // schema 3 stores no path
    view.innerHTML = `<h3>${esc(btn.dataset.label || btn.textContent)} · <span class="verbatim">${esc(id)}</span>${where} · ${num(text.length)} chars</h3>${lost}<pre data-testid="payload">${esc(cut ? text.slice(0, cap) : text)}</pre>` + (cut ? `<p class="note">Showing the first ${num(cap)} characters.</p>` : "");
    if (pic) view.querySelector("h3").after(pic);
    scrollersFocusable(view);
  } catch (e) {
    view.innerHTML = `<p class="note">${esc(id)}: ${esc(e.message || e)}</p>` + (info && info[2] ? `<p class="note" data-testid="capture">${esc(id)} was not recorded whole (${esc(info[2])})</p>` : "");
  }
}
