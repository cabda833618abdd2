"""The demo's real tools: processes started through exec_command, talked to through
write_stdin, and the recorder calls that make them terminal operations in the trace."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.abc

from ..record import TerminalSession, ToolCall

_SHELL = "/bin/sh"


class _Live:
    def __init__(self, process: anyio.abc.Process, session: TerminalSession) -> None:
        self.process = process
        self.session = session
        self.output: list[str] = []


async def _read_some(process: anyio.abc.Process, at_least: int) -> str:
    """Read what the process printed: at least ``at_least`` bytes, or until it goes quiet."""
    assert process.stdout is not None
    chunks: list[bytes] = []
    got = 0
    with anyio.move_on_after(5):
        while got < at_least:
            try:
                chunk = await process.stdout.receive()
            except anyio.EndOfStream:
                break
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks).decode(errors="replace")


async def _read_all(process: anyio.abc.Process) -> str:
    assert process.stdout is not None
    chunks: list[bytes] = []
    with anyio.move_on_after(10):
        while True:
            try:
                chunks.append(await process.stdout.receive())
            except anyio.EndOfStream:
                break
    return b"".join(chunks).decode(errors="replace")


class Terminals:
    """Processes the demo agent keeps, by session id (their pid)."""

    def __init__(self) -> None:
        self._live: dict[int, _Live] = {}

    async def exec_command(self, tool: ToolCall, args: dict[str, Any]) -> str:
        cmd = str(args.get("cmd", ""))
        argv = [_SHELL, "-c", cmd]
        process = await anyio.open_process(argv)
        session = tool.exec_started(argv, process_id=process.pid)
        if args.get("tty"):
            self._live[process.pid] = _Live(process, session)
            return f"Process running with session ID {process.pid}\nOutput:\n"
        output = await _read_all(process)
        code = await process.wait()
        session.exited(code, output)
        await process.aclose()
        return f"Process exited with code {code}\nOutput:\n{output}"

    async def write_stdin(self, tool: ToolCall, args: dict[str, Any]) -> str:
        session_id = args.get("session_id")
        live = self._live.get(session_id) if isinstance(session_id, int) else None
        if live is None:
            raise LookupError(f"no running session {session_id}")
        tool.stdin_target(live.session)
        process = live.process
        assert process.stdin is not None
        chars = str(args.get("chars", ""))
        if chars:
            await process.stdin.send(chars.encode())
            echoed = await _read_some(process, len(chars.encode()))
            live.output.append(echoed)
            return f"Process running with session ID {session_id}\nOutput:\n{echoed}"
        await process.stdin.aclose()
        rest = await _read_all(process)
        live.output.append(rest)
        code = await process.wait()
        live.session.exited(code, "".join(live.output))
        self._live.pop(process.pid, None)
        await process.aclose()
        return f"Process exited with code {code}\nOutput:\n{rest}"

    async def aclose(self) -> None:
        for live in self._live.values():
            live.process.kill()
            with anyio.CancelScope(shield=True):
                await live.process.aclose()
        self._live.clear()
