"""Code-mode cells: the JavaScript an ``exec`` tool call runs, and the tool calls it makes.

The first response is the cell's initial response; unless it yielded, the cell ended with
it. A yielded cell ends later, when a ``wait`` call collects its result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar

from ..model import events as ev
from .runtime import NullLifecycle, error_text, outcome_of
from .tools import ToolCall, _NullToolCall


class CodeCell:
    """A code-mode cell started by an ``exec`` tool call; nested tool calls come from it."""

    enabled: ClassVar[bool] = True
    __slots__ = ("_ended", "_initial", "_live", "_tool", "runtime_cell_id")

    def __init__(self, tool: ToolCall, runtime_cell_id: str, source_js: str) -> None:
        self._tool = tool
        self.runtime_cell_id = runtime_cell_id
        self._initial = False
        self._ended = False
        self._live = tool._emit(
            ev.CodeCellStarted(
                runtime_cell_id, tool.model_visible_call_id or tool.tool_call_id, source_js
            )
        )
        if self._live:
            tool._turn._rt.opened(self)
        else:  # dropped start: ``ToolCall.code_cell`` hands out the null twin instead
            self._initial = self._ended = True

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
        """A tool call the cell's JavaScript made (``tools.<name>(...)``)."""
        if not self._live:
            return _NullToolCall.INSTANCE
        tool = ToolCall(
            self._tool._turn,
            tool_call_id,
            name,
            namespace=namespace,
            arguments=arguments,
            custom_input=input,
            search=None,
            command=None,
            model_visible_call_id=None,
            code_cell=self,
            runtime_tool_id=runtime_tool_id,
        )
        return tool if tool._live else _NullToolCall.INSTANCE

    def yielded(self, content_items: Sequence[Any] = ()) -> None:
        """The cell handed control back while still running (a later wait ends it)."""
        self._respond("Yielded", "yielded", content_items, None)

    def finished(self, content_items: Sequence[Any] = (), *, error_text: str | None = None) -> None:
        """The cell's script finished (failed when ``error_text`` is given)."""
        self._respond("Result", "failed" if error_text else "completed", content_items, error_text)

    def terminated(self, content_items: Sequence[Any] = ()) -> None:
        self._respond("Terminated", "terminated", content_items, None)

    def _respond(
        self,
        variant: str,
        status: ev.CodeCellRuntimeStatus,
        content_items: Sequence[Any],
        error: str | None,
    ) -> None:
        if self._ended:
            return
        body: dict[str, Any] = {
            "cell_id": self.runtime_cell_id,
            "content_items": list(content_items),
        }
        if variant == "Result":
            body["error_text"] = error
        response = {"response": {variant: body}}
        tool = self._tool
        rt = tool._turn._rt
        if not self._initial:
            self._initial = True
            ref = rt.payload("tool_result", response)
            tool._emit(ev.CodeCellInitialResponse(self.runtime_cell_id, status, ref))
        if variant == "Yielded":
            return
        self._ended = True
        rt.closed(self)
        ref = rt.payload("tool_result", response)
        tool._emit(ev.CodeCellEnded(self.runtime_cell_id, status, ref))

    @property
    def ended(self) -> bool:
        return self._ended

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.terminated()

    async def __aenter__(self) -> CodeCell:
        await self._tool._turn._rt.room()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ended:
            return
        outcome = outcome_of(exc)
        if exc is not None and outcome == "failed":
            self.finished(error_text=error_text(exc))
        elif outcome == "cancelled":
            self.terminated()
        elif not self._initial:
            self.finished()


class _NullCodeCell(NullLifecycle, CodeCell):
    enabled: ClassVar[bool] = False
    __slots__ = ()
    INSTANCE: ClassVar[CodeCell]

    def __init__(self) -> None:
        self.runtime_cell_id = ""
        self._initial = True
        self._ended = True
        self._live = False

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
        return _NullToolCall.INSTANCE

    def yielded(self, content_items: Sequence[Any] = ()) -> None:
        return None

    def finished(self, content_items: Sequence[Any] = (), *, error_text: str | None = None) -> None:
        return None

    def terminated(self, content_items: Sequence[Any] = ()) -> None:
        return None

    @property
    def ended(self) -> bool:
        return True


_NullCodeCell.INSTANCE = _NullCodeCell()
