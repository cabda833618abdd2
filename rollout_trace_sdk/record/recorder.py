"""Opening and closing a rollout: where the bundle goes, the writer task, and the last lines.

``async with open_rollout(...) as rollout`` creates the bundle, starts the writer in a task
group it owns, and records ``rollout_started`` and the root thread. On the way out (normally,
by an exception or by cancellation) it ends whatever the agent left open, records
``thread_ended`` and ``rollout_ended``, and lets the writer drain and append
``recording_completed``. The agent's own exception always comes out unchanged.

With no trace root (argument or environment), or when the bundle cannot be created, the
rollout is the disabled twin: every handle it gives out is a null object.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import anyio.abc
import attrs

from .._signals import RECORDING_STOP_SIGNALS
from ..model import events as ev
from ..model.state_execution import UNKNOWN_MODEL
from ._async_lib import WRITER_TASK, current_async_library
from ._options import seconds, text_or_none, whole
from ._shard_plan import CaptureLimits
from ._text import shown
from ._tool_fast import FastTools
from .rollout import NULL_ROLLOUT, Rollout
from .runtime import (
    ENDED_AS,
    Runtime,
    names_a_thread,
    outcome_of,
    thread_id_text,
    uuid4,
    uuid7,
    warn,
)
from .threads import AgentThread
from .writer import BundleWriter

if TYPE_CHECKING:
    from .redact import RedactionConfig

#: Seconds a closing rollout spends draining its queue before it counts the rest as lost.
DEFAULT_CLOSE_TIMEOUT: Final = 30.0
#: Seconds one write may take before the disk counts as hung (``open_rollout(write_timeout=)``).
DEFAULT_WRITE_TIMEOUT: Final = 30.0

#: Environment variables naming the trace root, in order of preference.
ROOT_ENV_VARS: Final = ("ROLLOUT_TRACE_ROOT", "CODEX_ROLLOUT_TRACE_ROOT")


def trace_root_from_env() -> Path | None:
    """The trace root the environment asks for (an empty value means the current directory).

    Returns:
        ``$ROLLOUT_TRACE_ROOT`` (else ``$CODEX_ROLLOUT_TRACE_ROOT``) as a path, or ``None``
        when neither is set.
    """
    for name in ROOT_ENV_VARS:
        value = os.environ.get(name)
        if value is not None:
            return Path(value or ".")
    return None


async def _run_writer(writer: BundleWriter, scope: RolloutScope, host: int) -> None:
    """The writer task. Not shielded: cancelling it loses nothing (``aclose`` drains what is
    left itself), and a shielded task that waits for work could keep a cancelled task group
    from ever finishing. Guarded: a writer bug must not cancel the agent's work. A rollout
    the event loop ended under (``BundleWriter.run``) gives back the stop signals it took."""
    try:
        await writer.run(orphan_timeout=scope._settings.close_timeout, host=host)
    except anyio.get_cancelled_exc_class():
        if writer.stats.closed:
            scope._release_signals()
        raise
    except Exception as exc:
        warn(f"rollout trace: the bundle writer stopped: {exc!r}", kind="bundle writer stopped")


@attrs.frozen(kw_only=True)
class _Settings:
    """What :func:`open_rollout` was asked for, checked: a rollout scope's settings."""

    root: str | os.PathLike[str] | None
    enabled: bool
    thread_id: str | None
    nickname: str | None
    metadata: dict[str, Any] | None
    model: str
    provider_name: str
    cwd: str | None
    session_source: Any
    approval_policy: str
    sandbox_policy: str
    max_queued_bytes: int
    overflow: Literal["wait", "drop"]
    close_timeout: float
    write_timeout: float
    durable: bool
    schema_version: int
    limits: CaptureLimits | None
    redaction: RedactionConfig | None


class RolloutScope:
    """What :func:`open_rollout` returns: ``async with`` it to get a :class:`Rollout`."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        #: what the scope must close (kept here, not read back from the rollout it hands out)
        self._open: tuple[Runtime, BundleWriter] | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._sigterm = False
        self._entered = False
        #: the task that entered the writer's task group (only it may leave it)
        self._host = 0
        #: the tasks of entries refused (the scope had been entered): their exits close nothing
        self._refused: list[int] = []

    def _create_writer(self, root: Path, trace_id: str, thread_id: str) -> BundleWriter:
        settings = self._settings
        writer = BundleWriter.create(
            root,
            trace_id=trace_id,
            root_thread_id=thread_id,
            max_queued_bytes=settings.max_queued_bytes,
            overflow=settings.overflow,
            durable=settings.durable,
            schema_version=settings.schema_version,
            limits=settings.limits,
            redaction=settings.redaction,
        )
        # what the recorder ever makes the agent wait for a disk that does not answer
        writer.stall_s = settings.write_timeout
        return writer

    async def __aenter__(self) -> Rollout:
        if self._entered:
            # a scope kept and entered again (once per episode, say), or by two tasks: one
            # scope is one bundle, and raising here failed the agent
            warn(
                "rollout trace: this open_rollout() scope was entered before; each rollout "
                "needs an open_rollout() call of its own: not recording this one",
                kind="open_rollout() scope entered twice",
            )
            self._refused.append(anyio.get_current_task().id)
            return NULL_ROLLOUT
        self._entered = True
        settings = self._settings
        try:
            root = _root(settings.root)
        except (TypeError, ValueError) as exc:
            warn(
                f"rollout trace: cannot use {settings.root!r} as the trace root: {exc}",
                kind="unusable trace root",
            )
            return NULL_ROLLOUT
        if not settings.enabled or root is None:
            return NULL_ROLLOUT
        requested = settings.thread_id
        given = thread_id_text(requested)
        thread_id = given or uuid7()
        if given is None and names_a_thread(requested):
            warn(
                f"rollout trace: thread id {shown(requested)} is not a UUID; using {thread_id}",
                kind="thread id not a UUID",
            )
        trace_id = uuid4()
        try:
            writer = self._create_writer(root, trace_id, thread_id)
        except Exception as exc:
            warn(
                f"rollout trace: cannot create a bundle under {root}: {_why(exc)}; not recording",
                kind="cannot create a bundle",
            )
            return NULL_ROLLOUT
        # Nothing here awaits anything that can block: entering in a cancelled scope (or one
        # whose deadline passes now) must neither hang nor lose the bundle. The task group
        # and its task are created without a checkpoint; the first checkpoint of the body
        # sees the cancellation, and ``__aexit__`` closes the bundle as "aborted".
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._host = anyio.get_current_task().id
        tg.start_soon(_run_writer, writer, self, self._host, name=WRITER_TASK)
        RECORDING_STOP_SIGNALS.acquire()
        self._sigterm = True
        self._tg = tg
        try:
            rt = Runtime(
                writer,
                trace_id=trace_id,
                rollout_id=thread_id,
                model=settings.model,
                provider_name=settings.provider_name,
                cwd=os.fsdecode(settings.cwd) if settings.cwd else os.getcwd(),
                approval_policy=settings.approval_policy,
                sandbox_policy=settings.sandbox_policy,
                wait_for_room=_room_probe(
                    writer, settings.max_queued_bytes if settings.overflow == "wait" else None
                ),
            )
            if rt.flat is not None:
                rt.fast_tools = FastTools(rt, writer)
            rt.event(ev.RolloutStarted(trace_id, thread_id))
            root_thread = AgentThread(
                rt,
                thread_id=thread_id,
                agent_path="/root",
                nickname=settings.nickname,
                session_source=settings.session_source,
            )
        except Exception as exc:
            # a bug must not reach the agent, nor leave the writer's task group entered (its
            # exit would then fail on a cancel scope the agent's task never entered)
            warn(
                f"rollout trace: cannot start recording: {exc!r}; not recording",
                kind="cannot start recording",
            )
            await self._close(None, writer, "failed")
            return NULL_ROLLOUT
        self._open = (rt, writer)
        rollout = Rollout(rt, writer, root_thread)
        if settings.metadata:
            rollout.add_metadata(settings.metadata)
        return rollout

    # the async-with protocol's signature, as Handle's; the bodies share nothing
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        refused = self._refused
        if refused and anyio.get_current_task().id in refused:
            refused.remove(anyio.get_current_task().id)  # the exit of a refused entry
            return
        if self._tg is None or self._open is None:
            return
        rt, writer = self._open
        await self._close(rt, writer, ENDED_AS[outcome_of(exc)])

    async def _close(
        self, rt: Runtime | None, writer: BundleWriter, status: ev.RolloutStatus
    ) -> None:
        """End what is open with ``status``, close the bundle and leave the task group."""
        tg, self._tg = self._tg, None
        assert tg is not None
        if rt is not None:
            try:
                rt.close_all(status)
                rt.event(ev.RolloutEnded(status))
            except Exception as err:
                warn(
                    f"rollout trace: closing the rollout failed: {err!r}",
                    kind="closing the rollout failed",
                )
        try:
            await writer.aclose(timeout=self._settings.close_timeout)
        except Exception as err:
            warn(
                f"rollout trace: closing the bundle writer failed: {err!r}",
                kind="closing the bundle writer failed",
            )
        finally:
            # also when asyncio's own cancellation, held while the bundle closed, comes out
            # of ``aclose``: the writer task must not outlive its closed bundle
            self._release_signals()
            if anyio.get_current_task().id != self._host:
                # Only the task that entered a task group may leave it: a rollout closed in
                # another task (an async-generator fixture whose teardown runs in a task of
                # its own) got anyio's RuntimeError. The bundle is closed; the writer task
                # ends by itself now that its writer is.
                warn(
                    "rollout trace: the rollout was closed in another task than the one "
                    "that opened it; its bundle is complete",
                    kind="rollout closed in another task",
                )
            else:
                tg.cancel_scope.cancel()  # the writer task ends at once (nothing to write)
                await _leave(tg)

    def _release_signals(self) -> None:
        if self._sigterm:
            self._sigterm = False
            RECORDING_STOP_SIGNALS.release()


def _why(exc: Exception) -> str:
    """Why a bundle could not be made, without its (new each time) name: Python's default
    filter then shows a read-only root once, not once a request (review prod27)."""
    code = exc.errno if isinstance(exc, OSError) else None
    return f"[Errno {code}] {os.strerror(code)}" if code else repr(exc)


async def _leave(tg: anyio.abc.TaskGroup) -> None:
    """Leave the writer's task group; under trio, a Ctrl-C comes out as it came.

    Trio raises a Ctrl-C at the main task's next wait (one pressed as the close wrote its
    last line: leaving the group), and the nursery wrapped it in a ``BaseExceptionGroup``,
    which the agent's ``except KeyboardInterrupt`` missed: the group is ours, not the
    agent's. Not under asyncio: there a bare KeyboardInterrupt out of a task breaks out of
    the event loop, and the runner then left anyio's worker threads running (the process
    hung at exit: 4 and 7 of 30 SIGTERMs with SIGINT ignored); a group ends the task."""
    interrupt: BaseException | None = None
    try:
        await tg.__aexit__(None, None, None)
    except BaseExceptionGroup as group:
        interrupts, rest = group.split(KeyboardInterrupt)
        if interrupts is None or rest is not None or current_async_library() != "trio":
            raise
        interrupt = interrupts.exceptions[0]
    if interrupt is not None:
        raise interrupt  # outside the handler: the group is no context of it


def _root(root: str | os.PathLike[str] | bytes | None) -> Path | None:
    """The trace root: the argument (text, bytes or a path), else the environment's."""
    return Path(os.fsdecode(root)) if root is not None else trace_root_from_env()


def _room_probe(writer: BundleWriter, budget: int | None) -> Callable[[], int]:
    """What the next ``async with`` of a handle does for the writer: 0 nothing; 1 give the
    writer task its turn (it has work and an agent that never awaits anything would never
    let it run: the queue would then grow into fresh memory until the budget stops it);
    2 wait for it to catch up (``overflow="wait"`` and more than half the byte budget is
    held), so the ``*_nowait`` calls that follow find room.

    Args:
        writer: the rollout's writer.
        budget: its byte budget, or ``None`` when producers never wait (``overflow="drop"``).
    """
    threshold = (1 << 62) if budget is None else budget // 2
    # one Python frame a tool call: the queue's own attributes, not three properties
    return functools.partial(writer.room_wanted, threshold, budget is not None)


def open_rollout(
    root: str | os.PathLike[str] | None = None,
    *,
    enabled: bool = True,
    thread_id: str | None = None,
    nickname: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    model: str = UNKNOWN_MODEL,
    provider_name: str = "unknown",
    cwd: str | None = None,
    session_source: Any = "exec",
    approval_policy: str = "never",
    sandbox_policy: str = "DangerFullAccess",
    max_queued_bytes: int = 64 << 20,
    overflow: Literal["wait", "drop"] = "wait",
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    durable: bool = False,
    schema_version: int | None = None,
    max_payload_bytes: int | None = None,
    max_bundle_bytes: int | None = None,
    redact: bool | RedactionConfig = True,
) -> RolloutScope:
    """Record one rollout into a new bundle under ``root``.

    ``root`` defaults to ``$ROLLOUT_TRACE_ROOT`` (or ``$CODEX_ROLLOUT_TRACE_ROOT``); with
    neither, or with ``enabled=False``, the rollout is disabled and records nothing.
    ``thread_id`` is the root thread's id (a UUID; one is drawn when omitted); ``model`` and
    ``provider_name`` are the defaults for inference calls. The writer holds at most
    ``max_queued_bytes`` in memory; past that it waits (``overflow="wait"``: producers slow
    down at their next ``async with``) or drops and records the loss (``"drop"``).
    Closing (even when cancelled) spends at most ``close_timeout`` seconds writing what is
    still queued; whatever is left then is counted as lost, and the closing lines are still
    attempted. A write that has not returned after ``write_timeout`` seconds (a disk that
    stopped answering) stops the recording for good: nothing waits for the disk again (not
    the close, not ``overflow="wait"``), the bundle is left unclosed, as a crash leaves it,
    and a :class:`RecorderWarning` says so. With ``durable=True`` the bundle is fsynced at checkpoints (each turn's end,
    once what it recorded is written, and the close), and every payload file when written:
    a power cut then loses at most the turn in progress.

    ``schema_version`` picks the bundle schema: 3 (Codex 0.171: zstd shards, each
    conversation item stored once) or 2 (Codex 0.169); unset, ``$ROLLOUT_TRACE_SCHEMA``
    decides, else :data:`DEFAULT_SCHEMA`. Schema 3 takes ``max_payload_bytes`` (per payload)
    and ``max_bundle_bytes`` (the whole bundle); what they cut is recorded as truncated or
    omitted and the bundle still closes.

    Secrets (API keys, bearer tokens, cookies, values of ``password``/``token``-like names,
    ...) are redacted in every payload and log line before they reach the disk, in the
    writer's thread: ``redact=False`` writes everything as it is; a
    :class:`~.redact.RedactionConfig` adds patterns, names and a hook (see
    docs/redaction.md).

    Args:
        root: the folder bundles are made in.
        enabled: ``False`` records nothing (every handle is a null twin).
        thread_id: the root thread's id.
        nickname: the root agent's display name (Codex's ``nickname``), which ``show``, the
            viewer and the exports show for it, as a spawned thread's; none when omitted.
        metadata: the rollout's metadata (an episode's id, its task), recorded at the start
            as :meth:`Rollout.add_metadata` records it (which adds more later: a reward).
        model: the default model of inference calls.
        provider_name: the default provider of inference calls.
        cwd: the working directory recorded in the session metadata (the process's when
            not given).
        session_source: Codex's ``session_source`` of the root thread.
        approval_policy: recorded in the session metadata, as Codex does.
        sandbox_policy: recorded in the session metadata, as Codex does.
        max_queued_bytes: the writer's memory budget.
        overflow: what a producer does when the budget is used up.
        close_timeout: seconds closing may spend writing what is still queued.
        write_timeout: seconds one write may take before the disk counts as hung.
        durable: fsync at checkpoints.
        schema_version: the bundle schema, 2 or 3.
        max_payload_bytes: schema 3's cap on one payload.
        max_bundle_bytes: schema 3's cap on the whole bundle.
        redact: whether (and how) secrets are redacted.

    Returns:
        The scope to enter with ``async with``; it gives the :class:`Rollout`.

    Raises:
        ValueError: a ``schema_version`` other than 2 or 3, size caps with
            ``schema_version=2``, an ``overflow`` other than "wait" or "drop", a negative or
            non-finite ``close_timeout``, a ``write_timeout`` that is not a positive finite
            number. (What the environment says is never raised: a
            ``$ROLLOUT_TRACE_SCHEMA`` other than 2 or 3 is warned about and the default
            used; one of 2 where the call sets size caps is warned about and schema 3
            written, as the caps need it.)
        TypeError: ``redact`` is neither a bool nor a ``RedactionConfig``; a size or
            timeout that is not a number (``"100"``, ``10.5`` for a byte count); a
            ``nickname`` that is not text; ``metadata`` that is not a mapping.
    """
    capped = max_payload_bytes is not None or max_bundle_bytes is not None
    schema = _schema(schema_version, capped=capped)
    # Options are checked here, where a wrong one is the caller's to see: found later, in
    # the writer, it could only stop the recording.
    whole("max_queued_bytes", max_queued_bytes)
    whole("max_payload_bytes", max_payload_bytes, optional=True)
    whole("max_bundle_bytes", max_bundle_bytes, optional=True)
    seconds("close_timeout", close_timeout)
    seconds("write_timeout", write_timeout)
    text_or_none("nickname", nickname)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, not {type(metadata).__name__}")
    if not write_timeout > 0:
        raise ValueError(f"write_timeout must be more than 0 s, not {write_timeout!r}")
    if overflow not in ("wait", "drop"):
        raise ValueError(f'overflow must be "wait" or "drop", not {overflow!r}')
    limits = None
    if capped:
        if schema != 3:
            raise ValueError("max_payload_bytes and max_bundle_bytes need schema_version=3")
        limits = CaptureLimits(max_payload_bytes, max_bundle_bytes)
    settings = _Settings(
        root=root,
        enabled=enabled,
        thread_id=thread_id,
        nickname=nickname,
        metadata=dict(metadata) if metadata else None,
        model=model,
        provider_name=provider_name,
        cwd=cwd,
        session_source=session_source,
        approval_policy=approval_policy,
        sandbox_policy=sandbox_policy,
        max_queued_bytes=max_queued_bytes,
        overflow=overflow,
        close_timeout=close_timeout,
        write_timeout=write_timeout,
        durable=durable,
        schema_version=schema,
        limits=limits,
        redaction=_redaction(redact),
    )
    return RolloutScope(settings)


def _redaction(redact: bool | RedactionConfig) -> RedactionConfig | None:
    """``None`` is the default redaction (the redactor is imported with the writer, not
    before a bundle is made)."""
    if redact is True:
        return None
    from .redact import RedactionConfig

    if redact is False:
        return RedactionConfig(enabled=False)
    if not isinstance(redact, RedactionConfig):
        raise TypeError(f"redact must be a bool or a RedactionConfig, not {redact!r}")
    return redact


#: The schema a rollout writes when neither the call nor the environment says.
DEFAULT_SCHEMA: Final = 3
SCHEMA_ENV: Final = "ROLLOUT_TRACE_SCHEMA"


def _schema(requested: int | None, *, capped: bool = False) -> int:
    """The schema to write: the argument, else ``$ROLLOUT_TRACE_SCHEMA``, else the default.

    A wrong argument is the caller's to see and raises; the environment is an operator's,
    and a wrong or unfit value there must not make the agent's code fail where it did
    nothing wrong: it is warned about, and the schema the call can use is written
    (schema 3 for size caps: a bundle the call bounded stays bounded, and
    ``rollout-trace convert --to 2`` makes the schema-2 bundle afterwards).
    """
    if requested is not None:
        if requested not in (2, 3):
            raise ValueError(f"schema_version must be 2 or 3, not {shown(requested)}")
        return requested
    text = os.environ.get(SCHEMA_ENV, "").strip()
    if not text:
        return DEFAULT_SCHEMA
    if text not in ("2", "3"):
        warn(
            f"rollout trace: ${SCHEMA_ENV} must be 2 or 3, not {text!r}; "
            f"writing schema {DEFAULT_SCHEMA}",
            kind="unknown schema",
        )
        return DEFAULT_SCHEMA
    if text == "2" and capped:
        warn(
            f"rollout trace: ${SCHEMA_ENV}=2 ignored: max_payload_bytes and max_bundle_bytes "
            "need schema 3 (rollout-trace convert --to 2 makes a schema-2 copy)",
            kind="schema 2 with caps",
        )
        return 3
    return int(text)
