"""Where ``summary`` gets its state: an up-to-date ``state.json`` beside the bundle when there is
one, else a reduction.

Reducing a large rollout takes tens of seconds; parsing the state ``rollout-trace reduce``
already wrote takes a fraction of one. The file is used only when it is certainly the state of
the bundle as it is now:

* it is a regular file in the bundle directory (reached without a symlink, like every file
  the reducer reads);
* it is newer than everything the reduction reads: ``manifest.json``, ``trace.jsonl``, the
  payloads directory (a schema-2 payload file added changes the directory) and every file in
  it (schema 3's shards are appended to in place); a symlink among those means "cannot tell";
* ``reduce`` leaves a state it wrote while the bundle changed older than the change
  (``view/state_mtime.py``), so a state of half a log is not taken for the whole;
* it is a reduced state of this bundle and schema: a JSON object with a ``threads`` map whose
  ``schema_version``, ``trace_id``, ``rollout_id`` and ``started_at_unix_ms`` equal the
  manifest's (``state.json`` is byte-identical to Codex's, so it cannot carry a stamp of ours).

Anything else is reduced again, and the command says on standard error which it did and why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import orjson

from ..model.json_check import manifest_value
from ..model.layout import EVENT_LOG, MANIFEST, STATE_FILE
from ..reduce.confined import BundleFileError, BundleFiles
from ..reduce.failures import failed
from ..reduce.liveness import log_is_live
from .checkpoints import annotate_cut_checkpoints
from .item_text import MOST_TEXTS
from .load import mark_live, read_state_bytes
from .progress import reduction_progress
from .protocol_scan import LogReader, scan_log
from .state_mtime import inputs_newest

#: Manifest fields a state repeats: they must agree for the state to be this bundle's.
_IDENTITY: Final = ("schema_version", "trace_id", "rollout_id", "started_at_unix_ms")

#: How a top-level key of a pretty-printed state begins.
_TOP_KEY: Final = b'\n  "'
#: Top-level values the summary does not read (about half of a large state).
_UNREAD: Final = frozenset({"conversation_items", "raw_payloads"})


@attrs.frozen
class LoadedState:
    """A state and how it was obtained."""

    #: the reduced state as plain JSON values
    state: dict[str, Any]
    #: the bundle directory, when the source was one (error texts are read from its log)
    bundle: Path | None
    #: one sentence for standard error: what was read or reduced, and why
    how: str


def fresh_state(
    root: Path, *, strict: bool = False, items: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """``root/state.json`` when it is up to date (see the module docstring), else None; with
    the reason either way (for standard error). ``strict``: not for a log that ends in a cut
    line either, whose state only ``reduce --lenient`` could have written (a strict command
    must refuse the bundle as the reducer does, not read that state). ``items``: parse
    ``conversation_items`` too (see :func:`parse_for_summary`)."""
    with BundleFiles(root) as files:
        if strict and _ends_cut(files):
            return None, f"{EVENT_LOG} ends in a cut line"
        try:
            handle = files.open(STATE_FILE, what=STATE_FILE)
        except BundleFileError as exc:
            if isinstance(exc.os_error, FileNotFoundError):
                return None, f"no {STATE_FILE}"
            return None, f"{STATE_FILE} unusable: {exc.cause or exc.message}"
        with handle:
            state_mtime = os.fstat(handle.fileno()).st_mtime_ns
            newest, name = inputs_newest(root)
            if newest is None:
                return None, f"cannot tell whether {STATE_FILE} is newer than {name}"
            if state_mtime <= newest:
                return None, f"{STATE_FILE} is older than {name}"
            raw = handle.read()
        try:
            manifest = manifest_value(files.read_bytes(MANIFEST, what="manifest"))
        except (BundleFileError, ValueError):
            return None, "the manifest must be checked by the reducer"
    try:
        state = parse_for_summary(raw, items=items)
    except orjson.JSONDecodeError:
        return None, f"{STATE_FILE} is not JSON"
    if not isinstance(state, dict) or not isinstance(state.get("threads"), dict):
        return None, f"{STATE_FILE} is not a reduced state"
    if not isinstance(manifest, dict):
        return None, "the manifest must be checked by the reducer"
    for field in _IDENTITY:
        if state.get(field) != manifest.get(field):
            return None, f"{STATE_FILE} is not this bundle's ({field} differs from the manifest)"
    return state, f"{STATE_FILE} is newer than the bundle's files"


def _ends_cut(files: BundleFiles) -> bool:
    """Whether the log's last byte is not a newline (a crash cut its last line)."""
    try:
        with files.open(EVENT_LOG, what=EVENT_LOG) as log:
            size = os.fstat(log.fileno()).st_size
            if size == 0:
                return False
            log.seek(size - 1)
            return bool(log.read(1) != b"\n")
    except (BundleFileError, OSError):
        return False  # the reducer says what is wrong with the log


def read_state_file(source: str, *, items: bool = False) -> dict[str, Any]:
    """A state file given by the user: a regular file only, opened without blocking (a FIFO or
    a device named here would hang or never end), that parses to a reduced state
    (``items``: with its ``conversation_items``, see :func:`parse_for_summary`).

    Raises:
        ReduceError: unreadable, not JSON (serde's wording), or not a reduced state.
    """
    raw = read_state_bytes(source)
    try:
        state = parse_for_summary(raw, items=items)
    except orjson.JSONDecodeError:
        from .state_shape import not_json

        raise not_json(raw, source) from None
    from .state_shape import refuse_unless_state

    refuse_unless_state(state, source)
    checked: dict[str, Any] = state
    return checked


def _sections(raw: bytes) -> dict[str, tuple[int, int]] | None:
    """Where each top-level value of a pretty-printed state lies, by key; None when ``raw`` is
    not laid out as ``state_bytes`` (and Codex) write it: ``{``, then one key per line indented
    by exactly two spaces. JSON strings hold no raw newline, so ``\\n  "`` starts a top-level
    key and nothing else (deeper keys are indented further)."""
    if not raw.startswith(b'{\n  "'):
        return None
    starts = []
    at = raw.find(_TOP_KEY)
    while at >= 0:
        starts.append(at)
        at = raw.find(_TOP_KEY, at + len(_TOP_KEY))
    close = raw.rfind(b"}")
    where: dict[str, tuple[int, int]] = {}
    for n, start in enumerate(starts):
        colon = raw.find(b'": ', start)
        end = starts[n + 1] if n + 1 < len(starts) else close
        if colon < 0 or colon > end:
            return None
        where[raw[start + len(_TOP_KEY) : colon].decode("utf-8", "replace")] = (colon + 3, end)
    return where


def _value(raw: bytes, span: tuple[int, int]) -> Any:
    chunk = raw[span[0] : span[1]].rstrip()
    return orjson.loads(chunk[:-1] if chunk.endswith(b",") else chunk)


def parse_for_summary(raw: bytes, *, items: bool = False) -> Any:
    """A state parsed for ``summary``: what it reads, and nothing else when the layout allows.

    Half of a large state is ``conversation_items`` and ``raw_payloads``; parsing them makes up
    most of the time ``summary`` would take. A pretty-printed state (every state ``reduce``
    or Codex writes) is cut at its top-level keys and only the other values are parsed;
    the rest too when a tool call failed (its error is the output item's text or is in its
    raw result payload). ``conversation_items`` is parsed when ``items`` is true: one agent's
    summary (``--thread``) needs it, as an interaction edge anchored on items belongs to
    the items' threads.
    Any other layout is parsed whole.

    Raises:
        orjson.JSONDecodeError: what is parsed is not JSON.
    """
    where = _sections(raw)
    if where is None:
        return orjson.loads(raw)
    unread = _UNREAD - {"conversation_items"} if items else _UNREAD
    state = {key: _value(raw, span) for key, span in where.items() if key not in unread}
    if failed(state, "tool_calls"):  # the error is the output item's text, else the raw result's
        for key in _UNREAD & where.keys():
            state[key] = _value(raw, where[key])
    return state


def load_summary_state(
    source: str,
    *,
    lenient: bool,
    err: TextIO,
    thread: str | None = None,
    checkpoints: bool = True,
) -> LoadedState:
    """The state to summarise: a state file as given; for a bundle directory its up-to-date
    ``state.json``, else a reduction (with a progress bar on a terminal).

    Args:
        source: a bundle directory or a state file.
        lenient: reduce leniently when reducing (a fresh ``state.json`` is used as is).
        err: standard error, for the progress bar.
        thread: the agent a ``--thread`` summary is of (a state read from a file then keeps
            its ``conversation_items``, which say whose an item-anchored edge is).
        checkpoints: put in the cut checkpoints (``checkpoints``); ``summary`` reads them in
            its one pass over the log with the rest (:func:`log_facts`).

    Returns:
        The state, the bundle (if any) and what was done.

    Raises:
        ReduceError: the source cannot be read or reduced.
    """
    path = Path(source)
    shown = source.rstrip("/") or "/"
    items = thread is not None
    if not path.is_dir():
        named = read_state_file(source, items=items)
        bundle = _bundle_of(path, named)
        if bundle is not None:
            mark_live(named, log_is_live(bundle))
            _checkpoints(named, bundle, checkpoints)
        return LoadedState(named, bundle, f"read {shown}")
    live = log_is_live(path)  # asked first: a writer closing meanwhile leaves it whole
    state, why = fresh_state(path, strict=not lenient, items=items)
    if state is not None:
        mark_live(state, live)
        _checkpoints(state, path, checkpoints)
        return LoadedState(state, path, f"read {shown}/{STATE_FILE} ({why})")
    from ..reduce import reduce_bundle, state_bytes

    notes: list[str] = []
    with reduction_progress(err, f"reducing {path.name}") as progress:
        trace = reduce_bundle(path, lenient=lenient, skipped=notes, progress=progress)
    how = f"reduced {shown} ({why}; `rollout-trace reduce` writes one, then summary reads it)"
    if notes:
        from .lenient_notes import lenient_lines

        how += "".join(f"\n{line}" for line in lenient_lines(notes))
    state = orjson.loads(state_bytes(trace))
    mark_live(state, live)
    _checkpoints(state, path, checkpoints)
    return LoadedState(state, path, how)


def _checkpoints(state: dict[str, Any], bundle: Path, wanted: bool) -> None:
    if wanted:
        annotate_cut_checkpoints(state, bundle)


def _bundle_of(state_file: Path, state: Mapping[str, Any]) -> Path | None:
    """The bundle a state file named directly sits in (``BUNDLE/state.json``), when the state
    is that bundle's rollout (the manifest's identity fields): its log and payloads hold the
    error texts and the recorder's reports the state does not. None otherwise."""
    root = state_file.parent
    try:
        with BundleFiles(root) as files:
            manifest = manifest_value(files.read_bytes(MANIFEST, what="manifest"))
    except (BundleFileError, OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    same = all(state.get(field) == manifest.get(field) for field in _IDENTITY)
    return root if same else None


def failure_texts(
    bundle: Path, state: Mapping[str, Any], *, most: int = MOST_TEXTS
) -> dict[str, str]:
    """Error texts the reduced state does not keep, by id: an inference call's ``error`` or
    ``reason`` and a compaction request's ``error`` (only in ``trace.jsonl``; see
    ``reduce.failures``), a failed tool call's ``error`` from its raw result payload, and why
    a turn failed or was interrupted (its closing protocol events; see ``turn_errors``).

    The log is searched for the event types as bytes (no full parse), and only when the
    state has such a failure; at most ``most`` payloads are read, and at most ``most`` texts
    of each kind kept, each cut as the view model cuts it (``logged_texts``). What cannot be
    read gives no text (the summary then says where to look).
    """
    return _read_texts(bundle, state, most, None)


def log_facts(
    bundle: Path, state: dict[str, Any], *, most: int = MOST_TEXTS
) -> tuple[dict[str, str], dict[str, Any], int]:
    """What ``summary`` reads of the bundle besides the state, in one pass over the log (it
    read it up to three times): :func:`failure_texts`, the rollout's metadata and how many of
    its records a capture limit cut (``rollout_metadata.metadata_and_cut``), and the cut checkpoints put in ``state``
    (``checkpoints``: a ``load_summary_state(checkpoints=False)``'s state), with the Agents
    SDK calls' approvals (``approvals``).

    Returns:
        (the failure texts by id, the metadata, the metadata records cut).
    """
    from .rollout_metadata import Metadata

    metadata = Metadata(bundle)
    return _read_texts(bundle, state, most, metadata), metadata.merged, metadata.cut


def _read_texts(
    bundle: Path, state: Mapping[str, Any], most: int, metadata: LogReader | None
) -> dict[str, str]:
    """:func:`failure_texts`, the log read once for them and ``metadata`` (with it, the cut
    checkpoints and the approvals)."""
    from .approvals import approvals_reader
    from .checkpoints import checkpoints_reader
    from .item_text import ending_turn_id, status_of, stopped_text
    from .turn_errors import LoggedTexts, cut_off, ended_badly

    texts: dict[str, str] = {}
    turns = ended_badly(state)[:most]
    calls = failed(state, "inference_calls") or failed(state, "compaction_requests")
    tools = cut_off(state)
    logged = (
        LoggedTexts(bundle, set(turns), calls=calls, tools=tools)
        if turns or calls or tools
        else None
    )
    cut = approvals = None
    if metadata is not None and isinstance(state, dict):
        cut = checkpoints_reader(state)
        # the calls' approvals, put on them as ``load_state`` does for show and the page
        approvals = approvals_reader(state, bundle)
    scan_log(bundle, [logged, metadata, cut, approvals])  # one pass over the log for all
    if logged is not None:
        texts.update(logged.call_texts)
    if failed(state, "tool_calls"):
        from .payloads import failed_tool_errors  # here: it opens the bundle's payloads

        texts.update(failed_tool_errors(bundle, state, most=most))
    if logged is not None:
        texts.update(logged.turn_texts)
        tools_by_id, turns_by_id = state.get("tool_calls"), state.get("codex_turns")
        for ident, cause in logged.scan.tool_causes.items():  # what cancelled a call
            tool = tools_by_id.get(ident) if isinstance(tools_by_id, Mapping) else None
            if not isinstance(tool, Mapping):
                continue
            # as ``item_text.what_stopped`` says it for show: by the turn it ended in, whose
            # text is in ``texts`` here (this state's turns carry none)
            turn_id = ending_turn_id(state, tool)
            turn = turns_by_id.get(turn_id) if isinstance(turns_by_id, Mapping) else None
            turn_status = status_of(turn) if isinstance(turn, Mapping) else None
            turn_text = logged.turn_texts.get(turn_id) if isinstance(turn_id, str) else None
            said = stopped_text(status_of(tool), turn_status, turn_text, cause)
            if said:
                texts.setdefault(ident, said)
    return texts
