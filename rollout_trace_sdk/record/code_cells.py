"""Code-mode cells: the JavaScript an ``exec`` tool call runs, and the tool calls it makes.

The first response is the cell's initial response; unless it yielded, the cell ended with
it. A yielded cell ends later, when a ``wait`` call collects its result: Codex keeps it
running after its turn completes, and the tool calls it makes then are still its turn's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import events as ev
from ._handle import Handle, started
from .runtime import NullLifecycle, Outcome, Runtime, ignore, returning
from .tools import ToolCall, _NullToolCall

if TYPE_CHECKING:
    from .turns import Turn


class CodeCell(Handle):
    """A code-mode cell started by an ``exec`` tool call; nested tool calls come from it."""

    __slots__ = ("_initial", "_turn", "runtime_cell_id")

    def __init__(
        self, rt: Runtime, turn: Turn, runtime_cell_id: str, exec_call_id: str, source_js: str
    ) -> None:
        super().__init__(rt, turn.thread.thread_id, turn.turn_id)
        self._turn = turn
        self.runtime_cell_id = runtime_cell_id
        self._initial = False
        # its thread owns it, not its turn: a yielded cell outlives its turn (Codex keeps it
        # running), not its thread. A dropped start: ``ToolCall.code_cell`` hands out the
        # null twin instead.
        started = ev.CodeCellStarted(runtime_cell_id, exec_call_id, source_js)
        if not self._start(started, turn.thread):
            self._initial = True

    def tool_call(
        self,
        tool_call_id: str,
        name: str,
        *,
        runtime_tool_id: str,
        arguments: str | Mapping[str, Any] | None = None,
        input: str | None = None,
        namespace: str | None = None,
    ) -> ToolCall:
        """A tool call the cell's JavaScript made (``tools.<name>(...)``).

        Args:
            tool_call_id: the call's id in the trace.
            name: the tool's name; it decides the call's kind.
            runtime_tool_id: the code-mode runtime's id for the call (the model never sees
                this call, so it has no model-visible call id).
            arguments: a function tool's arguments (JSON text or object).
            input: a custom (freeform) tool's input.
            namespace: the namespace the tool name lives in, if any.

        Returns:
            The tool call (end it with :meth:`ToolCall.completed_value`), or a null call when
            the cell is not live, has ended (a yielded cell has not), or the call's start was
            dropped.
        """
        if not self._live or self._over():
            return _NullToolCall.INSTANCE
        # as in Turn.tool_call, but the cell requests this one: a runtime tool id, no model-visible id
        tool = ToolCall(
            self._rt,
            self._turn,
            tool_call_id,
            name,
            namespace=namespace,
            arguments=arguments,
            custom_input=input,
            code_cell=self,
            runtime_tool_id=runtime_tool_id,
        )
        return started(tool, _NullToolCall.INSTANCE)

    def yielded(self, content_items: Sequence[Any] = ()) -> None:
        """The cell handed control back while still running (a later wait ends it).

        Args:
            content_items: what the cell returned so far (the initial response's content).
        """
        self._respond("Yielded", "yielded", content_items, None)

    def finished(self, content_items: Sequence[Any] = (), *, error_text: str | None = None) -> None:
        """The cell's script finished (failed when ``error_text`` is given).

        Args:
            content_items: what the cell returned.
            error_text: the script's error, for a cell that threw.
        """
        self._respond("Result", "failed" if error_text else "completed", content_items, error_text)

    def terminated(self, content_items: Sequence[Any] = ()) -> None:
        """The runtime stopped the cell before its script finished (cancelled, or the
        rollout closed under it).

        Args:
            content_items: what the cell returned before it was stopped.
        """
        self._respond("Terminated", "terminated", content_items, None)

    def _respond(
        self,
        variant: str,
        status: ev.CodeCellRuntimeStatus,
        content_items: Sequence[Any],
        error: str | None,
    ) -> None:
        if self._done:
            self._finish()  # counts a late one (see ``Handle._finish``)
            return
        body: dict[str, Any] = {
            "cell_id": self.runtime_cell_id,
            "content_items": list(content_items),
        }
        if variant == "Result":
            body["error_text"] = error
        response = {"response": {variant: body}}
        if not self._initial:
            self._initial = True
            ref = self._payload("tool_result", response)
            self._emit(ev.CodeCellInitialResponse(self.runtime_cell_id, status, ref))
        if variant == "Yielded" or not self._finish():
            return
        # the calls it made and left running end with it, as a turn's calls end with the turn
        self._rt.close_owned_by(self, "aborted")
        # the waits on it resolve; the first collects it, in its own turn
        collected_in = self._rt.cell_ended(self._turn.thread.thread_id, self.runtime_cell_id)
        ref = self._payload("tool_result", response)
        self._emit(ev.CodeCellEnded(self.runtime_cell_id, status, ref), in_turn=collected_in)

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.terminated()

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        if error is not None and outcome == "failed":
            self.finished(error_text=error)
        elif outcome == "cancelled":
            self.terminated()
        elif not self._initial:
            self.finished()
        # else: it yielded and runs on; a later wait collects its result


class _NullCodeCell(NullLifecycle, CodeCell):
    __slots__ = ()
    INSTANCE: ClassVar[CodeCell]

    tool_call = returning(lambda: _NullToolCall.INSTANCE)
    yielded = finished = terminated = ignore


_NullCodeCell.INSTANCE = _NullCodeCell(runtime_cell_id="", _initial=True, _done=True, _live=False)
