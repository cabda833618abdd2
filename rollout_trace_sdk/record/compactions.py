"""Compactions: the requests that summarise a thread's history, and the checkpoint that
replaces it.

A compaction may take several requests (a retry on another model shares the compaction id);
``installed`` records the history before and after, which is what the reducer needs to reuse
replacement items in the next request instead of creating new ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import events as ev
from ._handle import Emitter, ModelRequest
from ._plain import to_plain
from .inference import report_dropped
from .requests import normalize_request
from .runtime import NullLifecycle, Runtime, error_of, ignore, listed, returning

if TYPE_CHECKING:
    from .turns import Turn


class Compaction(Emitter):
    """One compaction of a thread's history within a turn (a group of requests, with no
    lifecycle of its own)."""

    enabled: ClassVar[bool] = True
    __slots__ = ("_installed", "_turn", "compaction_id")

    def __init__(self, rt: Runtime, turn: Turn, compaction_id: str) -> None:
        super().__init__(rt, turn.thread.thread_id, turn.turn_id)
        self._turn = turn
        self.compaction_id = compaction_id
        self._installed = False

    def request(
        self,
        request: Mapping[str, Any],
        *,
        model: str | None = None,
        provider_name: str | None = None,
    ) -> CompactionRequest:
        """Start a compaction request (``compaction_request_started``) with the request as
        sent to the model.

        Args:
            request: the request body; its ``input`` list gets the thread's item ids.
            model: the model asked; the request's ``model``, else the thread's.
            provider_name: the provider; the thread's when not given.

        Returns:
            The request, to end with :meth:`CompactionRequest.completed` or ``failed``.
        """
        return CompactionRequest(
            self._rt,
            self._turn,
            self.compaction_id,
            request,
            model=model,
            provider_name=provider_name,
        )

    def installed(
        self, *, input_history: Sequence[Any], replacement_history: Sequence[Any]
    ) -> list[Any]:
        """The compacted history replaces the old one (``compaction_installed``).

        Only the first call records the checkpoint; a later one just returns the items.

        Args:
            input_history: the history as it was before the compaction.
            replacement_history: the history that replaces it.

        Returns:
            The replacement items with ids; the thread's next request should send them (or
            your own copies of them) as its history.
        """
        turn = self._turn
        thread = turn.thread
        # a later call leaves the input history alone: its id-less items, whose ids the first
        # call retired, would take new ones, counted as occurrences, and the next item of the
        # same content would then be accepted under one id and sent under another
        first = not self._installed
        before = (
            thread._ids.for_request(_typed(turn, self.compaction_id, "input", input_history))
            if first
            else []
        )
        after = thread._ids.for_request(
            _typed(turn, self.compaction_id, "replacement", replacement_history)
        )
        if not first:
            return thread._ids.calls.unrenamed(after)
        self._installed = True
        thread._ids.reset_to(after)
        if self._rt.items is not None:
            # schema 3: the history was replaced; the next request cannot extend the old one
            self._rt.items.reset(thread.thread_id)
        compaction_id = self.compaction_id
        if self._emit_citing(
            "compaction_checkpoint",
            {"input_history": before, "replacement_history": after},
            lambda ref: ev.CompactionInstalled(compaction_id, ref),
        ):
            # the reducers match the next full request against the replacement, and no
            # answer extends the thread's snapshot until then (see ``_continuations``)
            self._rt.request_memo(thread.thread_id).continuations.compacted()
        return thread._ids.calls.unrenamed(after)


def _typed(turn: Turn, compaction_id: str, which: str, history: Sequence[Any]) -> list[Any]:
    """A checkpoint's history as typed items, as a request's input is (what cannot be read
    is dropped and said, see :func:`.inference.report_dropped`)."""
    body, problems = normalize_request(list(history), known=turn._rt.known_items)
    report_dropped(turn, {"compaction_id": compaction_id}, f"{which} history", problems)
    items: list[Any] = body["input"]
    return items


class CompactionRequest(ModelRequest):
    """One attempt at a compaction request."""

    __slots__ = ("_turn", "compaction_id", "compaction_request_id")

    def __init__(
        self,
        rt: Runtime,
        turn: Turn,
        compaction_id: str,
        request: Mapping[str, Any],
        *,
        model: str | None,
        provider_name: str | None,
    ) -> None:
        super().__init__(rt, turn.thread.thread_id, turn.turn_id)
        self._turn = turn
        self.compaction_id = compaction_id
        thread = turn.thread
        self.compaction_request_id = rt.next_compaction_request_id()
        # recorded as sent (the reducers read no compaction request: Codex's remote one ends
        # with a compaction_trigger item, which an inference's request may not hold)
        body = dict(to_plain(request))  # a model or a dataclass: the dict it holds
        items = body.get("input")
        if isinstance(items, list | tuple):
            body["input"] = thread._ids.for_request(items)
        if model is None:
            requested = body.get("model")
            model = requested if isinstance(requested, str) else thread.model
        ref = self._payload("compaction_request", body)
        started = None
        if ref is not None:  # nothing to end if the start could not be recorded
            started = ev.CompactionRequestStarted(
                compaction_id,
                self.compaction_request_id,
                thread.thread_id,
                turn.turn_id,
                model,
                provider_name or thread.provider_name,
                ref,
            )
        self._start(started, turn)  # a turn that ends first ends its running requests

    def completed(self, output_items: Sequence[Any]) -> list[Any]:
        """The model returned the compacted items (e.g. one ``compaction`` item).

        When the response cannot be stored the request is recorded as failed, so the trace
        never shows it running.

        Args:
            output_items: the items the model returned.

        Returns:
            The items with their ids (pass them on to :meth:`Compaction.installed`).
        """
        ids = self._turn.thread._ids
        # as returned: the reducers read the items once installed (typed there)
        items = ids.for_snapshot(output_items)
        returned = ids.calls.unrenamed(items)
        if not self._finish():
            return returned
        ref = self._payload("compaction_response", {"output_items": items})
        if ref is None:  # the request must still end, or the trace shows it running
            self._emit(
                ev.CompactionRequestFailed(
                    self.compaction_id,
                    self.compaction_request_id,
                    "rollout trace: the response could not be recorded",
                )
            )
            return returned
        self._emit(
            ev.CompactionRequestCompleted(self.compaction_id, self.compaction_request_id, ref)
        )
        return returned

    def failed(self, error: str | BaseException) -> None:
        """The request failed: it ends with ``error`` and no response.

        Args:
            error: what went wrong (an exception: recorded as ``Type: message``).
        """
        if self._finish():
            text = error_of(error)
            self._emit(
                ev.CompactionRequestFailed(self.compaction_id, self.compaction_request_id, text)
            )

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.failed("ended before the compaction response")

    def _unanswered(self, reason: str) -> None:
        self.failed(reason)  # the schema has no cancelled end for a compaction request


# --- null twins --------------------------------------------------------------------------------


class _NullCompactionRequest(NullLifecycle, CompactionRequest):
    __slots__ = ()
    INSTANCE: ClassVar[CompactionRequest]

    failed = ignore

    def completed(self, output_items: Sequence[Any]) -> list[Any]:
        return listed(output_items)


class _NullCompaction(NullLifecycle, Compaction):
    __slots__ = ()
    INSTANCE: ClassVar[Compaction]

    request = returning(lambda: _NullCompactionRequest.INSTANCE)

    def installed(
        self, *, input_history: Sequence[Any], replacement_history: Sequence[Any]
    ) -> list[Any]:
        return listed(replacement_history)


_NullCompactionRequest.INSTANCE = _NullCompactionRequest(
    compaction_id="", compaction_request_id="", _done=True
)
_NullCompaction.INSTANCE = _NullCompaction(compaction_id="", _installed=False)
