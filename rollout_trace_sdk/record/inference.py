"""Inference attempts: one request to the model and how it ended.

Only the first terminal call (completed / failed / cancelled) of an attempt is recorded, so
a loop may call ``completed`` and still leave the ``async with`` block by an exception without
contradicting itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..model import events as ev
from ._handle import ModelRequest
from ._item_store import RequestRefs
from ._problems import Problem
from ._text import shown
from ._usage import normalize_usage
from .items import TokenUsage
from .requests import normalize_output_items
from .runtime import NullLifecycle, Runtime, error_of, ignore, now_ms, uuid4, warn

if TYPE_CHECKING:
    from .turns import Turn

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)

#: The request header ``call.headers`` sets to the inference call id: send it to the provider
#: to join its logs to the trace (Codex sends the same header).
CALL_ID_HEADER: Final = "x-codex-inference-call-id"


def report_dropped(turn: Turn, who: dict[str, str], what: str, problems: list[Problem]) -> None:
    """Input the reducers would refuse was dropped: say so, and record it in the bundle.

    One warning says all of the part's problems, of each problem's kind: shown when any of
    them is a kind not shown before in the process (see ``_warnings.recorder_warning``), so
    a later request with another problem is heard though its first was not new. The
    bundle's event records the sentences alone, as it always has.

    Args:
        turn: the turn whose thread records the note.
        who: the model request it happened in, by id (``{"inference_call_id": ...}``,
            ``{"compaction_request_id": ...}``, ``{"compaction_id": ...}``).
        what: which of its parts (``request``, ``output``, ...).
        problems: one per thing dropped, each of its kind; nothing is said when empty.
    """
    if problems:
        named = " ".join(
            f"{key.removesuffix('_id').replace('_', ' ')} {v}" for key, v in who.items()
        )
        sentences = [str(problem) for problem in problems]
        kinds = tuple(dict.fromkeys(problem.kind for problem in problems))
        warn(f"rollout trace: {named} {what}: " + "; ".join(sentences), kind=kinds)
        turn.thread.protocol_event(
            "rollout_trace_input_dropped", {**who, "what": what, "problems": sentences}
        )


def started_ms(started_at: object, earliest: int) -> int | None:
    """``Turn.inference(started_at=)`` as a wall time in Unix milliseconds (``None``: now).

    A time later than now is now: a clock that disagrees (another host's) must not make a
    call end before it starts. A time before ``earliest`` (its turn's start) is that: a call
    does not start before its turn, nor its rollout (an Agents SDK model call outside every
    agent span is recorded once the bundle opened at its end: its ``started_at`` came before
    the rollout's, and ``summary`` said 414 ms in calls of a 9 ms rollout; review49).
    Anything but an aware ``datetime`` or ISO-8601 text with a zone is warned about and
    taken as now: a naive time could be any zone's, and a wrong value must not fail the
    agent."""
    if started_at is None:
        return None
    try:  # the agent's value: its own tzinfo may raise, and that must not fail the agent
        when = datetime.fromisoformat(started_at) if isinstance(started_at, str) else started_at
        if isinstance(when, datetime) and when.utcoffset() is not None:
            return max(min((when - _EPOCH) // _MS, now_ms()), earliest)
    except Exception:  # warned about below, as any value that is no time
        pass
    warn(
        f"rollout trace: inference started_at {shown(started_at)} is not an aware datetime "
        "or ISO-8601 text with a zone; recording the call as started now",
        kind="inference started_at not a time",
    )
    return None


def last_assistant_text(items: Sequence[Any]) -> str | None:
    """The text of the last assistant message among ``items`` (Codex's last_agent_message)."""
    for item in reversed(items):
        if not isinstance(item, Mapping) or item.get("type") != "message":
            continue
        if item.get("role") != "assistant":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list | tuple):  # (a tuple of parts is an array too)
            texts = [
                part["text"]
                for part in content
                if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            ]
            if texts:
                return "".join(texts)
    return None


class InferenceCall(ModelRequest):
    """One inference attempt (``inference_started`` … ``inference_completed/failed/cancelled``).

    Unlike the other handles, a call whose start could not be recorded is handed out as it
    is (ended), not replaced by the null twin: its ``request`` and ids are still useful."""

    __slots__ = (
        "_abandoned",
        "_conversation",
        "_history",
        "_lost",
        "_refs",
        "_turn",
        "inference_call_id",
        "request",
    )

    def __init__(
        self,
        rt: Runtime,
        turn: Turn,
        request: Mapping[str, Any] | Sequence[Any] | object,
        *,
        model: str | None,
        provider_name: str | None,
        started_at: datetime | str | None = None,
    ) -> None:
        super().__init__(rt, turn.thread.thread_id, turn.turn_id)
        self._turn = turn
        self._abandoned: Callable[[ev.RolloutStatus], None] | None = None
        self.inference_call_id = uuid4()
        thread = turn.thread
        memo = rt.request_memo(thread.thread_id)
        body, problems = memo.normalize(request)
        continuations = memo.continuations
        #: the conversation the server keeps that the request continues (``conversation=``)
        self._conversation = rt.conversations.request(request, body, problems)
        items = body.get("input")
        if isinstance(items, list | tuple):
            body["input"] = thread._ids.for_request(items)
        else:
            body["input"] = []
        # continuing a response the reducers would not read as sent: a whole history
        history = continuations.request(body, problems)
        report_dropped(turn, {"inference_call_id": self.inference_call_id}, "request", problems)
        #: the request as recorded: the caller's dict with ids filled in (a copy)
        self.request = body
        if model is None:
            requested = body.get("model")
            model = requested if isinstance(requested, str) else thread.model
        self._refs: RequestRefs | None = None
        started: ev.InferenceStarted | None
        provider = provider_name or thread.provider_name
        if rt.items is not None:
            # schema 3: items stored once; the request and its prompt are templates
            refs = self._refs = rt.items.request(thread.thread_id, body, body["input"])
            started = ev.InferenceStartedV3(
                self.inference_call_id,
                thread.thread_id,
                turn.turn_id,
                model,
                provider,
                refs.request,
                refs.prompt,
            )
        else:
            ref = self._payload("inference_request", body)
            # nothing to end if the start could not be recorded
            started = (
                None
                if ref is None
                else ev.InferenceStarted(
                    self.inference_call_id, thread.thread_id, turn.turn_id, model, provider, ref
                )
            )
        # a turn that ends first ends its running calls; a call whose start was lost (the
        # queue full, schema 2) stays the caller's, to count what its answer would record
        self._lost = not self._start(
            started, turn, wall_ms=started_ms(started_at, turn._started_ms)
        )
        #: the request's items as the reducers rebuild them (None: the start is not recorded)
        self._history = (
            None
            if self._lost
            else continuations.started(
                self.inference_call_id,
                history,
                full=not isinstance(body.get("previous_response_id"), str)
                and not (self._refs is not None and self._refs.incremental),
                kept=self._refs is None or self._refs.request.available,
            )
        )

    @property
    def headers(self) -> dict[str, str]:
        """Headers to send with the request so provider logs can be joined with the trace."""
        return {CALL_ID_HEADER: self.inference_call_id}

    def completed(
        self,
        *,
        response_id: str | None = None,
        output_items: Sequence[Any] | object = (),
        token_usage: TokenUsage | Mapping[str, Any] | object = None,
        upstream_request_id: str | None = None,
        accept: bool = True,
    ) -> list[Any]:
        """The model answered. Output items get ids and (unless ``accept=False``) enter the
        thread history. Only the first ending call records anything; when the response
        cannot be stored the call is recorded as failed, so the trace never shows it running.

        Args:
            response_id: the provider's response id.
            output_items: the output items, or a whole SDK ``Response`` / ``ChatCompletion``
                (its output is taken from it).
            token_usage: a :class:`TokenUsage`, Codex- or OpenAI-shaped usage JSON, or the
                SDK's usage object.
            upstream_request_id: the provider's request id (the ``x-request-id`` header).
            accept: whether the items enter the thread history now.

        Returns:
            The items as recorded, with ids; put those (or your own copies, which get the same
            ids) into the history you send next.
        """
        turn = self._turn
        ids = turn.thread._ids
        recorded: list[Any] = []
        item_ids: list[str] = []
        output_items, problems = normalize_output_items(output_items)
        report_dropped(turn, {"inference_call_id": self.inference_call_id}, "output", problems)
        self._rt.known_items.remember(output_items)  # a later request may name them by id
        for item in output_items:
            with_id, item_id = ids.for_history(item, produced=self.inference_call_id)
            recorded.append(with_id)
            if item_id is not None:
                item_ids.append(item_id)
        if not self._finish():
            if self._lost and accept:  # its items' acceptances are lost with it: counted
                self._lost = False
                for _ in item_ids:
                    self._rt.sink.lost_event()
            return ids.calls.unrenamed(recorded)
        rt = self._rt
        text = last_assistant_text(recorded)
        if text is not None:
            turn.last_agent_message = text
        usage = normalize_usage(token_usage)
        if usage is None and token_usage is not None:
            # a count where a usage belongs (``token_usage=resp.usage.total_tokens``): the
            # call's tokens would be missing from every total without a word
            rt.sink.values.note("usage")
        body = {
            "response_id": response_id,
            "upstream_request_id": upstream_request_id,
            "token_usage": usage,
            "output_items": recorded,
        }
        if rt.items is not None:
            # its template (usage and a reference per item) is kept past a full budget
            ref: ev.RawPayloadRef | None = rt.items.response(
                turn.thread.thread_id, body, recorded, request=self._refs, kept=usage is not None
            )
        else:
            ref = self._payload("inference_response", body)
        if ref is None:  # the call must still end, or the trace shows it running
            # its usage without its answer, kept past a full budget as the end is (usage50:
            # the tokens of 166 of 200 episodes were gone from every total)
            stub = {**body, "output_items": []}
            self._emit(
                ev.InferenceFailed(
                    self.inference_call_id,
                    upstream_request_id,
                    "rollout trace: the response could not be recorded",
                    None if usage is None else rt.payload_kept("inference_response", stub),
                )
            )
            if accept:  # acceptances of items no recorded response holds: counted as lost
                for _ in item_ids:
                    rt.sink.lost_event()
            return ids.calls.unrenamed(recorded)
        emitted = self._emit(
            ev.InferenceCompleted(self.inference_call_id, response_id, upstream_request_id, ref)
        )
        # counted past the bundle's ceiling (``Runtime.counted_only``), the answer is still
        # remembered: a later request continuing it is decided as the uncapped run decides it
        if (emitted or rt.counts_only) and self._history is not None:
            rt.request_memo(turn.thread.thread_id).continuations.answered(
                self.inference_call_id,
                self._history,
                response_id,
                recorded,
                kept=ref.available,
                request_kept=self._refs is None or self._refs.request.available,
            )
        if self._conversation is not None:  # the server appended the request and its answer
            rt.conversations.answered(self._conversation, output_items)
        if accept:
            for item_id in item_ids:
                turn.accept_item_id(item_id)
        return ids.calls.unrenamed(recorded)

    def _partial(
        self, items: Sequence[Any], token_usage: object = None
    ) -> tuple[ev.RawPayloadRef | None, list[Any]]:
        """The partial output's payload (None when there is neither output nor usage) and
        its items. The usage of a failed call (tokens the provider billed for an answer it
        could not use) is the payload's ``token_usage``, which both reducers read as the
        call's usage, as a completed call's."""
        turn = self._turn
        items, problems = normalize_output_items(items)
        report_dropped(
            turn, {"inference_call_id": self.inference_call_id}, "partial output", problems
        )
        usage = normalize_usage(token_usage)
        if usage is None and token_usage is not None:
            self._rt.sink.values.note("usage")  # as completed's: no tokens lost without a word
        if not items and usage is None:
            return None, []
        output = turn.thread._ids.for_snapshot(items, cut=self.inference_call_id) if items else []
        body = {
            "response_id": None,
            "upstream_request_id": None,
            "token_usage": usage,
            "output_items": output,
        }
        if self._rt.items is not None:
            return self._rt.items.response(turn.thread.thread_id, body, output), output
        return self._payload("inference_response", body), output

    def _cut(self, ref: ev.RawPayloadRef | None, output: list[Any]) -> None:
        """The recorded end of a failed or cancelled call, with ``output`` in ``ref``: the
        thread's snapshot now holds it (see ``_continuations``)."""
        if self._history is not None and ref is not None and ref.available and output:
            self._rt.request_memo(self._turn.thread.thread_id).continuations.cut(
                self.inference_call_id, self._history, output
            )

    def failed(
        self,
        error: str | BaseException,
        *,
        upstream_request_id: str | None = None,
        partial_items: Sequence[Any] = (),
        token_usage: TokenUsage | Mapping[str, Any] | object = None,
    ) -> None:
        """The attempt failed (HTTP error, broken stream, ...); partial output is kept.

        Args:
            error: what went wrong (an exception: recorded as ``Type: message``).
            upstream_request_id: the provider's request id, when it answered at all.
            partial_items: output items received before the failure.
            token_usage: what the failed attempt cost, when the provider said (a response
                the client could not use: the Agents SDK's ``ModelBehaviorError``), in any
                shape :meth:`completed` takes: counted in the call's and the rollout's
                totals.
        """
        if not self._finish():
            return
        ref, output = self._partial(partial_items, token_usage)
        failure = ev.InferenceFailed(
            self.inference_call_id, upstream_request_id, error_of(error), ref
        )
        if self._emit(failure):
            self._cut(ref, output)

    def cancelled(
        self,
        reason: str = "cancelled",
        *,
        upstream_request_id: str | None = None,
        partial_items: Sequence[Any] = (),
    ) -> None:
        """The attempt was abandoned (turn interrupted, task cancelled, ...).

        Args:
            reason: why it was abandoned.
            upstream_request_id: the provider's request id, when it answered at all.
            partial_items: output items received before it was abandoned.
        """
        if not self._finish():
            return
        ref, output = self._partial(partial_items)
        if self._emit(
            ev.InferenceCancelled(self.inference_call_id, upstream_request_id, reason, ref)
        ):
            self._cut(ref, output)

    def _when_abandoned(self, end: Callable[[ev.RolloutStatus], None]) -> None:
        """Have ``end`` end the call if its turn or rollout ends while it runs, told how
        they end: an integration reading the answer as it arrives (a stream) keeps what
        arrived so far, and the provider's request id, where the call would end with
        neither. If ``end`` leaves the call running, it ends as it would have."""
        self._abandoned = end

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        end, self._abandoned = self._abandoned, None
        if end is not None:
            try:
                end(status)
            except Exception as exc:
                warn(
                    f"rollout trace: ending an abandoned inference call failed: {exc!r}",
                    kind="ending an abandoned inference call failed",
                )
            if self.ended:
                return
        if status == "failed":
            self.failed("ended before the response")
        else:
            self.cancelled("ended before the response")

    def _unanswered(self, reason: str) -> None:
        self.cancelled(reason)


class _NullInferenceCall(NullLifecycle, InferenceCall):
    """The disabled twin of :class:`InferenceCall`."""

    __slots__ = ()
    INSTANCE: ClassVar[InferenceCall]

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def completed(self, *, output_items: Sequence[Any] | object = (), **_: Any) -> list[Any]:
        # unguarded (a twin is what the guard answers with): what the agent's values raise
        # when read must not reach it from here either
        try:
            if isinstance(output_items, list | tuple):
                return list(output_items)
            return normalize_output_items(output_items)[0]  # a Response or a ChatCompletion
        except Exception:
            return []

    failed = cancelled = ignore


_NullInferenceCall.INSTANCE = _NullInferenceCall(
    inference_call_id="",
    request={},
    _done=True,
    _refs=None,
    _conversation=None,
    _history=None,
)
#: The disabled inference call (what an integration records into when it cannot start one).
NULL_INFERENCE_CALL: Final[InferenceCall] = _NullInferenceCall.INSTANCE
