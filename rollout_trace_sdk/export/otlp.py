"""``rollout-trace export --format otlp``: a reduced rollout as OpenTelemetry spans.

The spans follow the OpenTelemetry GenAI semantic conventions (the ``semantic-conventions-genai``
registry, built on semantic conventions v1.41.1; status "Development"), so tools that read
``gen_ai.*`` attributes (Jaeger, Arize Phoenix, Langfuse, ...) draw an agent tree:

- the rollout is the root span, ``invoke_workflow rollout``;
- each agent thread is an ``invoke_agent {name}`` span, a child of the tool call that spawned it
  (else of its parent thread, else of the root);
- each Codex turn is a ``turn`` span under its thread;
- each inference call, and each remote compaction request, is a ``chat {model}`` span (kind
  CLIENT) with model, response id and token usage;
- each tool call is an ``execute_tool {tool}`` span;
- each Agents SDK guardrail a turn ran (its protocol event, put on the turn by
  ``view.guardrails``) is a ``guardrail {name}`` span under that turn, ERROR when it tripped;
- each interaction edge (spawn, message, result...) is a span link from the span it reaches to
  the span it came from.

This module maps the state to plain :class:`OtlpTrace` records and imports nothing from
OpenTelemetry; :mod:`.otlp_sdk` turns the records into SDK spans and sends or writes them.

Ids are derived, never random: the trace id is the bundle's trace id (a UUID) and each span id
hashes it with the node's kind and id, so exporting the same rollout twice yields the same spans
and a receiver that keys on ids keeps one copy.

Payloads (request and response bodies, tool invocations and results) are carried by reference
by default: ``rollout_trace.payload.<role>`` names the bundle's ``raw_payload:N``. With
``inline`` the conversation itself goes into ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result`` (all
opt-in content in the conventions), and each referenced payload body, when a reader is given,
into ``rollout_trace.payload.<role>.body``; long values are cut at
:data:`.otlp_content.MAX_INLINE_BYTES`.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from ..reduce.failures import FAILED_STATUSES  # reported as span status ERROR
from ..view.approvals import KEY as APPROVAL
from ..view.capture import capture_notes, not_whole, recording_status
from ..view.item_text import ending_turn_id, own_item_ids, tool_name, what_stopped
from ..view.rollout_metadata import metadata_json
from ._otlp_tree import SpanTree
from .otlp_content import MAX_INLINE_BYTES, Conversation, cut
from .otlp_names import (
    AGENT_ID,
    AGENT_NAME,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    CONVERSATION,
    ERROR_TYPE,
    INPUT_MESSAGES,
    INPUT_TOKENS,
    OPENINFERENCE_KIND,
    OPENINFERENCE_METADATA,
    OPERATION,
    OURS,
    OUTPUT_MESSAGES,
    OUTPUT_TOKENS,
    PROVIDER,
    REASONING_TOKENS,
    REQUEST_MODEL,
    RESPONSE_ID,
    TOOL_ARGUMENTS,
    TOOL_CALL_ID,
    TOOL_NAME,
    TOOL_RESULT,
    TOOL_TYPE,
    WORKFLOW,
    provider_value,
)

AttrValue = str | int | float | bool
_Obj = Mapping[str, Any]


@attrs.frozen
class OtlpLink:
    """A link to another span of the same trace."""

    span_id: int
    attributes: dict[str, AttrValue]


@attrs.frozen
class OtlpSpan:
    """One span, with its times in nanoseconds since the Unix epoch.

    ``error`` is None for a span whose status stays unset, else the ERROR status description.
    """

    span_id: int
    parent_id: int | None
    name: str
    kind: Literal["internal", "client"]
    start_ns: int
    end_ns: int
    attributes: dict[str, AttrValue]
    error: str | None = None
    links: tuple[OtlpLink, ...] = ()


@attrs.frozen
class OtlpTrace:
    """One rollout's spans (root first) and the attributes of the resource that sent them."""

    trace_id: int
    resource: dict[str, AttrValue]
    spans: list[OtlpSpan]


#: Reads one payload body by id; None when it cannot be read.
PayloadText = Callable[[str], str | None]


def _error_text(obj: _Obj) -> str:
    """What went wrong, as ``view.load`` puts it in the state (from the log, or a raw result)."""
    return text if isinstance(text := obj.get("error_text"), str) else ""


def trace_id_of(state: _Obj) -> int:
    """The OTLP trace id of a rollout: its trace id when that is a UUID, else a hash of it
    and the rollout id (never zero, which OTLP reserves for "invalid")."""
    raw = str(state.get("trace_id") or "")
    try:
        value = uuid.UUID(raw).int
    except ValueError:
        value = 0
    if value == 0:
        seed = f"{raw}/{state.get('rollout_id')}".encode()
        value = int.from_bytes(hashlib.sha256(seed).digest()[:16], "big") or 1
    return value


def span_id_of(trace_id: int, kind: str, node_id: str) -> int:
    """The span id of one node of the rollout (never zero)."""
    seed = f"{trace_id:032x}/{kind}/{node_id}".encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") or 1


def otlp_trace(
    state: _Obj, *, inline: bool = False, payload: PayloadText | None = None
) -> OtlpTrace:
    """Map a reduced state to spans.

    Args:
        state: the reduced state as plain JSON values.
        inline: put conversation content (messages, tool arguments and results) and, through
            ``payload``, payload bodies on the spans, instead of references only.
        payload: reads a payload body by ``raw_payload:N`` id (only used with ``inline``).

    Returns:
        The rollout's spans; a node without a start time starts with its parent, one still
        running ends at the last time the rollout records.
    """
    return _Mapper(state, inline, payload if inline else None).run()


def _table(state: _Obj, key: str) -> dict[str, _Obj]:
    value = state.get(key)
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)}


def _execution(obj: _Obj) -> _Obj:
    value = obj.get("execution")
    return value if isinstance(value, Mapping) else {}


def _chat_attributes(node: _Obj) -> dict[str, AttrValue]:
    """The attributes every model request's ``chat`` span starts with."""
    return {
        OPERATION: "chat",
        PROVIDER: provider_value(str(node.get("provider_name") or "_OTHER")),
        REQUEST_MODEL: str(node.get("model") or ""),
    }


#: OTLP times are unsigned 64-bit nanoseconds: a time in milliseconds outside this range (a
#: damaged or hostile state's: before 1970, or past 2554) cannot be carried, and is absent.
_MAX_MS: Final = (2**64 - 1) // 1_000_000


def _ms(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_MS:
        return value
    return None


def _order(obj: _Obj) -> tuple[int, int]:
    execution = _execution(obj)
    return (_ms(execution.get("started_at_unix_ms")) or 0, _ms(execution.get("started_seq")) or 0)


def _sorted(table: dict[str, _Obj]) -> list[tuple[str, _Obj]]:
    return sorted(table.items(), key=lambda kv: (*_order(kv[1]), kv[0]))


class _Mapper:
    """Walks the state once; spans are built in a fixed order so the output is stable."""

    def __init__(self, state: _Obj, inline: bool, payload: PayloadText | None) -> None:
        self.state = state
        self.inline = inline
        self.payload = payload
        self.trace_id = trace_id_of(state)
        self.threads = _table(state, "threads")
        self.turns = _table(state, "codex_turns")
        self.items = _table(state, "conversation_items")
        self.calls = _table(state, "inference_calls")
        self.tools = _table(state, "tool_calls")
        self.compactions = _table(state, "compaction_requests")
        self.edges = _table(state, "interaction_edges")
        self.payloads = _table(state, "raw_payloads")
        self.conversation = Conversation(self.items, self.tools, capture_notes(state))
        self.root_id = span_id_of(self.trace_id, "rollout", str(state.get("rollout_id")))
        self.start = _ms(state.get("started_at_unix_ms")) or self._earliest()
        self.horizon = max(self._latest(), self.start)
        self.links: dict[int, list[OtlpLink]] = {}
        self.tree = SpanTree(
            self.span_id,
            self.root_id,
            (self.threads, self.turns, self.items, self.tools, self.edges),
        )

    # -- times ---------------------------------------------------------------------------

    def _times(self) -> Iterable[int]:
        for table in (self.threads, self.turns, self.calls, self.tools, self.compactions):
            for obj in table.values():
                execution = _execution(obj)
                for key in ("started_at_unix_ms", "ended_at_unix_ms"):
                    if (value := _ms(execution.get(key))) is not None:
                        yield value
        if (value := _ms(self.state.get("ended_at_unix_ms"))) is not None:
            yield value

    def _earliest(self) -> int:
        return min(self._times(), default=0)

    def _latest(self) -> int:
        return max(self._times(), default=0)

    def window(self, obj: _Obj, parent_start: int) -> tuple[int, int]:
        """Start and end in nanoseconds (end never before start)."""
        execution = _execution(obj)
        start = _ms(execution.get("started_at_unix_ms"))
        start = parent_start if start is None else start
        end = _ms(execution.get("ended_at_unix_ms"))
        end = self.horizon if end is None else end
        return start * 1_000_000, max(start, end) * 1_000_000

    # -- ids (where each span hangs: ``self.tree``, see _otlp_tree) --------------------------

    def span_id(self, kind: str, node_id: Any) -> int:
        return span_id_of(self.trace_id, kind, str(node_id))

    # -- spans ---------------------------------------------------------------------------

    def run(self) -> OtlpTrace:
        self.link_edges()
        spans = [self.root()]
        # Span ids come from the tables' keys (the ids every reference uses), not from the
        # objects' own id fields, which a damaged state may lack.
        for key, thread in _sorted(self.threads):
            spans.append(self.thread(key, thread))
        for key, turn in _sorted(self.turns):
            spans.append(self.turn(key, turn))
        for key, turn in _sorted(self.turns):
            spans.extend(self.guardrails(key, turn))
        for key, call in _sorted(self.calls):
            spans.append(self.chat(key, call))
        for key, request in _sorted(self.compactions):
            spans.append(self.compaction(key, request))
        for key, tool in _sorted(self.tools):
            spans.append(self.tool(key, tool))
        spans = [attrs.evolve(s, links=tuple(self.links.get(s.span_id, ()))) for s in spans]
        resource: dict[str, AttrValue] = {"service.name": "rollout-trace"}
        return OtlpTrace(trace_id=self.trace_id, resource=resource, spans=spans)

    def status(self, obj: _Obj, attributes: dict[str, AttrValue], text: str = "") -> str | None:
        """Record the execution status; return the ERROR description of a failed node."""
        status = str(_execution(obj).get("status", "running"))
        attributes[f"{OURS}.status"] = status
        if status not in FAILED_STATUSES:
            return None
        attributes[ERROR_TYPE] = status
        return cut(text) if text else status

    def refs(self, attributes: dict[str, AttrValue], **payloads: Any) -> None:
        """Payload references, what a capture limit cut of them, and (inlined) the bodies of
        the whole ones: a cut payload reads as Codex's placeholder (``{"$trace_unavailable":
        id}``, also spliced into a template where a part was cut), never sent as content."""
        for role, payload_id in payloads.items():
            if not isinstance(payload_id, str):
                continue
            attributes[f"{OURS}.payload.{role}"] = payload_id
            ref = self.payloads.get(payload_id)
            unread = not_whole(ref) if ref is not None else None
            if unread is not None:
                attributes[f"{OURS}.payload.{role}.capture"] = unread
            elif self.payload is not None and (body := self.payload(payload_id)) is not None:
                attributes[f"{OURS}.payload.{role}.body"] = cut(body)

    def root(self) -> OtlpSpan:
        state = self.state
        attributes: dict[str, AttrValue] = {OPERATION: "invoke_workflow", WORKFLOW: "rollout"}
        for key, name in (
            ("rollout_id", CONVERSATION),
            ("rollout_id", f"{OURS}.rollout_id"),
            ("trace_id", f"{OURS}.trace_id"),
            ("status", f"{OURS}.status"),
        ):
            if isinstance(state.get(key), str):  # a damaged state may lack or mistype them
                attributes[name] = state[key]
        # schema 2 says ``recording_complete``, schema 3 ``recording_status``: one word for both
        if isinstance(state.get("recording_status"), str) or isinstance(
            state.get("recording_complete"), bool
        ):
            attributes[f"{OURS}.recording_status"] = recording_status(state)
        metadata = metadata_json(state, MAX_INLINE_BYTES)  # cut as other values
        if metadata is not None:
            attributes[OPENINFERENCE_METADATA] = metadata
        end = _ms(state.get("ended_at_unix_ms"))
        status = str(state.get("status", "running"))
        error = None
        if status in FAILED_STATUSES:
            attributes[ERROR_TYPE] = status
            error = status
        return OtlpSpan(
            span_id=self.root_id,
            parent_id=None,
            name="invoke_workflow rollout",
            kind="internal",
            start_ns=self.start * 1_000_000,
            end_ns=max(self.start, self.horizon if end is None else end) * 1_000_000,
            attributes=attributes,
            error=error,
        )

    def thread(self, thread_id: str, thread: _Obj) -> OtlpSpan:
        raw_origin = thread.get("origin")
        origin: _Obj = raw_origin if isinstance(raw_origin, Mapping) else {}
        name = thread.get("nickname") or origin.get("task_name") or thread.get("agent_path")
        attributes: dict[str, AttrValue] = {
            OPERATION: "invoke_agent",
            AGENT_ID: thread_id,
            AGENT_NAME: str(name or thread_id),
            CONVERSATION: thread_id,
            f"{OURS}.agent_path": str(thread.get("agent_path")),
        }
        provider = next(
            (
                c.get("provider_name")
                for c in self.calls.values()
                if c.get("thread_id") == thread_id
            ),
            None,
        )
        if isinstance(provider, str):
            attributes[PROVIDER] = provider_value(provider)
        if isinstance(thread.get("default_model"), str):
            attributes[REQUEST_MODEL] = thread["default_model"]
        if origin.get("agent_role"):
            attributes[f"{OURS}.agent_role"] = str(origin["agent_role"])
        return self.node_span(
            ("thread", thread_id, thread),
            self.tree.thread_parent(thread_id, thread),
            f"invoke_agent {attributes[AGENT_NAME]}",
            attributes,
            since=self.start,
        )

    def _thread_start(self, thread_id: Any) -> int:
        thread = self.threads.get(str(thread_id))
        start = _ms(_execution(thread).get("started_at_unix_ms")) if thread else None
        return self.start if start is None else start

    def turn(self, turn_id: str, turn: _Obj) -> OtlpSpan:
        attributes: dict[str, AttrValue] = {f"{OURS}.turn_id": turn_id}
        parent = self.tree.owner(turn.get("thread_id"), None)
        return self.node_span(
            ("turn", turn_id, turn), parent, "turn", attributes, text=_error_text(turn)
        )

    def guardrails(self, turn_id: str, turn: _Obj) -> Iterable[OtlpSpan]:
        """A ``guardrail {name}`` span for each guardrail the turn ran, under it: spans rather
        than span events, since Phoenix draws a span in the trace's tree (typed GUARDRAIL, red
        when ERROR) but lists a span's events only in its detail, where a tripwire that
        stopped the run would be one click away from sight. The event is written when the
        guardrail's span ends and records no start: the span is an instant at that time (its
        turn's start with none)."""
        guardrails = turn.get("guardrails")
        if not isinstance(guardrails, list):
            return
        parent = self.tree.owner(turn.get("thread_id"), turn_id)
        for n, g in enumerate(guardrails):
            if not isinstance(g, Mapping):
                continue
            name = str(g.get("name"))
            triggered = g.get("triggered") is True
            attributes: dict[str, AttrValue] = {
                OPENINFERENCE_KIND: "GUARDRAIL",
                f"{OURS}.guardrail.name": name,
                f"{OURS}.guardrail.triggered": triggered,
                f"{OURS}.turn_id": turn_id,
            }
            if isinstance(g.get("span_id"), str):
                attributes[f"{OURS}.guardrail.span_id"] = g["span_id"]
            error = None
            if triggered:
                attributes[ERROR_TYPE] = "guardrail_tripped"
                text = g.get("error")
                error = cut(text) if isinstance(text, str) and text else f"{name} tripped"
            at = _ms(g.get("at_unix_ms"))
            if at is None:
                at = _ms(_execution(turn).get("started_at_unix_ms")) or self.start
            yield OtlpSpan(
                span_id=self.span_id("guardrail", f"{turn_id}/{n}"),
                parent_id=parent,
                name=f"guardrail {name}",
                kind="internal",
                start_ns=at * 1_000_000,
                end_ns=at * 1_000_000,
                attributes=attributes,
                error=error,
            )

    def chat(self, call_id: str, call: _Obj) -> OtlpSpan:
        attributes = _chat_attributes(call)
        attributes[f"{OURS}.inference_call_id"] = call_id
        if isinstance(call.get("response_id"), str):
            attributes[RESPONSE_ID] = call["response_id"]
        usage = call.get("usage")
        if isinstance(usage, Mapping):
            for key, name in (
                ("input_tokens", INPUT_TOKENS),
                ("output_tokens", OUTPUT_TOKENS),
                ("cached_input_tokens", CACHE_READ_TOKENS),
                ("cache_write_input_tokens", CACHE_WRITE_TOKENS),
                ("reasoning_output_tokens", REASONING_TOKENS),
            ):
                if (value := _ms(usage.get(key))) is not None:
                    attributes[name] = value
        requests = call.get("request_item_ids")
        responses = call.get("response_item_ids")
        requests = requests if isinstance(requests, list) else []
        responses = responses if isinstance(responses, list) else []
        attributes[f"{OURS}.request_items"] = len(requests)
        attributes[f"{OURS}.response_items"] = len(responses)
        if self.inline:
            attributes[INPUT_MESSAGES] = self.conversation.input_messages(requests)
            attributes[OUTPUT_MESSAGES] = self.conversation.output_messages(
                responses,
                failed=str(_execution(call).get("status")) in FAILED_STATUSES,
                called_tools=bool(call.get("tool_call_ids_started_by_response")),
            )
        self.refs(
            attributes,
            request=call.get("raw_request_payload_id"),
            prompt=call.get("prepared_prompt_payload_id"),
            response=call.get("raw_response_payload_id"),
        )
        return self._model_call("inference", call_id, call, attributes)

    def compaction(self, request_id: str, request: _Obj) -> OtlpSpan:
        attributes = _chat_attributes(request)
        attributes[f"{OURS}.compaction_id"] = str(request.get("compaction_id"))
        attributes[f"{OURS}.compaction_request_id"] = request_id
        self.refs(
            attributes,
            request=request.get("raw_request_payload_id"),
            response=request.get("raw_response_payload_id"),
        )
        return self._model_call("compaction", request_id, request, attributes)

    def _model_call(
        self, kind: str, ident: str, node: _Obj, attributes: dict[str, AttrValue]
    ) -> OtlpSpan:
        """The ``chat`` span of a model request (an inference call or a compaction request):
        status, window and parent come from the node the same way for both."""
        parent = self.tree.owner(node.get("thread_id"), node.get("codex_turn_id"))
        name = f"chat {attributes[REQUEST_MODEL]}".rstrip()
        return self.node_span(
            (kind, ident, node), parent, name, attributes, client=True, text=_error_text(node)
        )

    def tool(self, tool_id: str, tool: _Obj) -> OtlpSpan:
        name = tool_name(tool)
        kind = tool.get("kind")
        call_id = tool.get("model_visible_call_id") or tool_id
        attributes: dict[str, AttrValue] = {
            OPERATION: "execute_tool",
            TOOL_NAME: name,
            TOOL_CALL_ID: str(call_id),
            TOOL_TYPE: "extension"
            if isinstance(kind, Mapping) and kind.get("type") == "mcp"
            else "function",
            f"{OURS}.tool_call_id": tool_id,
        }
        if isinstance(tool.get(APPROVAL), str):  # an Agents SDK approval (view/approvals.py)
            attributes[f"{OURS}.tool.approval"] = tool[APPROVAL]
        requester = tool.get("requester")
        if isinstance(requester, Mapping) and requester.get("type") == "code_cell":
            attributes[f"{OURS}.requester_code_cell_id"] = str(requester.get("code_cell_id"))
        own = functools.partial(own_item_ids, tool, items=self.items)
        result = self.conversation.texts(own("model_visible_output_item_ids"))
        if self.inline:
            attributes[TOOL_ARGUMENTS] = cut(
                self.conversation.texts(own("model_visible_call_item_ids"))
            )
            attributes[TOOL_RESULT] = cut(result)
        self.refs(
            attributes,
            invocation=tool.get("raw_invocation_payload_id"),
            result=tool.get("raw_result_payload_id"),
        )
        parent = self.tree.owner(tool.get("thread_id"), tool.get("started_by_codex_turn_id"))
        # the output (or the raw result's error) is content, said only when content is sent;
        # what stopped an aborted call is not (its turn's span says the reason too)
        said = what_stopped(self.state, tool, ending_turn_id(self.state, tool)) or ""
        text = ((result or _error_text(tool)) if self.inline else "") or said
        return self.node_span(
            ("tool", tool_id, tool), parent, f"execute_tool {name}", attributes, text=text
        )

    def node_span(
        self,
        node: tuple[str, str, _Obj],
        parent_id: int,
        name: str,
        attributes: dict[str, AttrValue],
        *,
        client: bool = False,
        text: str = "",
        since: int | None = None,
    ) -> OtlpSpan:
        """The span of a state node ``(kind, id, object)``: its status goes into
        ``attributes`` (a failed node's ERROR says ``text`` when given), its window starts
        at ``since`` (default: its thread's start) when the node has no start of its own."""
        kind, ident, obj = node
        error = self.status(obj, attributes, text)
        if since is None:
            since = self._thread_start(obj.get("thread_id"))
        start, end = self.window(obj, since)
        return OtlpSpan(
            span_id=self.span_id(kind, ident),
            parent_id=parent_id,
            name=name,
            kind="client" if client else "internal",
            start_ns=start,
            end_ns=end,
            attributes=attributes,
            error=error,
        )

    # -- links ---------------------------------------------------------------------------

    def link_edges(self) -> None:
        """Each edge as a link on the span it reaches, pointing at the span it came from."""
        for edge in sorted(self.edges.values(), key=lambda e: str(e.get("edge_id"))):
            source = self.tree.endpoint(edge.get("source"))
            target = self.tree.endpoint(edge.get("target"))
            if source is None or target is None or source == target:
                continue
            self.links.setdefault(target, []).append(
                OtlpLink(
                    span_id=source,
                    attributes={
                        f"{OURS}.edge_kind": str(edge.get("kind")),
                        f"{OURS}.edge_id": str(edge.get("edge_id")),
                    },
                )
            )
