"""Model items as the trace needs them: string ids, agent messages, token usage.

Codex 0.169 gives every model item an ``id``; the reducer uses it to tell "the same item sent
again" from "a new item with the same text", and ``history_item_accepted`` names items by it.
Agent loops written against other SDKs often keep id-less dicts in their history, so the
recorder fills in ids itself. The ids are derived from the item's content, not drawn at
random: a loop that resends its own id-less dicts in the next request gets the same ids again
without keeping our copies. Identical items (two ``"continue"`` messages) are told apart by
how many times that content already occurred, counted in history order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from ..model.items import ENVELOPE_PAYLOAD
from ._call_ids import (
    CALL_OUTPUT_TYPES,
    MENTIONS,
    CallIds,
    RequestCalls,
    RolloutCallNames,
    as_str,
    is_call_output,
)
from ._held import held_dict, held_fields, model_dumped, same_items
from ._values import canonical_bytes

#: Codex's id prefixes by item type; anything else gets ``item_``.
_ID_PREFIX: Final[dict[str, str]] = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
    "agent_message": "amsg",
    "tool_search_output": "tso",
    "web_search_call": "ws",
}


def plain(value: Any) -> Any:
    """SDK objects (pydantic models, as the OpenAI and Anthropic SDKs return) as plain JSON
    dicts, so ``call.completed(output_items=response.output)`` works as is."""
    if value.__class__ is dict or value is None or isinstance(value, list | str | int | float):
        return value
    if isinstance(value, Mapping):
        # a dict subclass or another mapping: read as the dict it holds, so its id, its
        # kind and the call it answers are the same dict's (each check here is on ``dict``);
        # with bounded work, as the encoder reads one (``_held``)
        held = held_dict(value)
        return value if held is None else held
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return model_dumped(dump, exclude_none=True)
        except Exception:
            return value
    # a dataclass item is the dict of its fields, as the encoder writes it (it was no item:
    # not accepted, a tool's output recorded as its repr)
    fields = held_fields(value)
    return value if fields is None else fields


def _has_id(item: Any) -> bool:
    if item.__class__ is dict:  # the common case, without the ABC check
        item_id = item.get("id")
        return item_id.__class__ is str or (item_id is not None and isinstance(item_id, str))
    return isinstance(item, Mapping) and isinstance(item.get("id"), str)


def content_id(item: Mapping[str, Any]) -> str:
    """The id an id-less item gets: type prefix + a digest of what identifies it.

    That is the item's canonical JSON, except for a tool call's output (``CALL_OUTPUT_TYPES``;
    in schema 3 it rides along on its acceptance, see ``Turn.accept``), which is identified
    by its type and call id (as recorded: ``call_0#2`` when the model gave two calls
    ``call_0``, see ``_call_ids``): a call has one output, and digesting its text (a 100 KB
    command output, say) on the event loop for every accepted result would cost more than
    the rest of the call. Two different outputs sent for one call id are still told apart,
    as any repeated content is: by occurrence (``_2``, ``_3``, ...).

    SHA-256 (cut to 12 bytes): with the CPU's SHA extensions it hashes ~2 GB/s."""
    kind = item.get("type")
    if not isinstance(kind, str):  # (an object or a list would not even be hashable)
        prefix = "item"
    else:
        prefix = _ID_PREFIX.get(kind, "item")
        if kind in CALL_OUTPUT_TYPES:
            call_id = item.get("call_id")
            if call_id.__class__ is str or (call_id := as_str(call_id)) is not None:
                body = f"{kind}\x00{call_id}".encode(errors="surrogatepass")
                return f"{prefix}_{hashlib.sha256(body).hexdigest()[:24]}"
    source = item if item.__class__ is dict and "id" not in item else _without_id(item)
    body = canonical_bytes(source)
    return f"{prefix}_{hashlib.sha256(body).hexdigest()[:24]}"


def _without_id(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "id"}


def _with_id(item: Mapping[str, Any], item_id: str) -> dict[str, Any]:
    copy = dict(item)
    copy["id"] = item_id
    return copy


def _occurrence_id(base: str, occurrence: int) -> str:
    """The id of the ``occurrence``-th id-less item with content id ``base``: ``base``, then
    ``base_2``, ``base_3``... (:func:`_base_of` goes back)."""
    return base if occurrence == 1 else f"{base}_{occurrence}"


def _base_of(item_id: str, occurrence: int) -> str:
    """The content id :func:`_occurrence_id` made ``item_id`` of, given its occurrence."""
    return item_id if occurrence == 1 else item_id[: -len(f"_{occurrence}")]


class ItemIds:
    """Per-thread id assignment. Not thread-safe; one event loop owns a thread's handles.

    For each content, occurrences are numbered in the order they are first handed out
    (entering history, or first sent); ids never repeat within one request, whether the loop
    keeps our id-filled copies, its own id-less dicts, or a mix of both. Ids are given by
    the item as the model sent it; the copy recorded may then carry another call id
    (:attr:`calls`, see :mod:`._call_ids`).

    Args:
        note: counts a loss-report kind (see :class:`._call_ids.CallIds`).
        names: the rollout's recorded call ids (see :class:`._call_ids.CallIds`).
    """

    __slots__ = (
        "_generated",
        "_last_calls",
        "_last_counts",
        "_last_in",
        "_last_out",
        "_last_used",
        "_occurrences",
        "_retired",
        "calls",
    )

    def __init__(
        self,
        note: Callable[[str], None] = lambda kind: None,
        names: RolloutCallNames | None = None,
    ) -> None:
        #: the thread's calls by model-visible id
        self.calls = CallIds(note, names)
        # content id → the highest occurrence number handed out so far
        self._occurrences: dict[str, int] = {}
        # id we generated → its occurrence (its content id is :func:`_base_of` the two); lets
        # a compaction restart the numbering. Numbers, not (content id, occurrence) tuples: a
        # dict of strings and numbers is one the garbage collector does not walk, and this one
        # grows by an entry for every item of the rollout
        self._generated: dict[str, int] = {}
        # ids generated before a compaction that its replacement history dropped: never given
        # again, or a later item would take an earlier one's acceptance in the reduced state
        self._retired: set[str] = set()
        # the last request: the caller's items, what was recorded, and the numbering state,
        # so a request that resends them plus new items only numbers the new ones
        self._last_in: list[Any] = []
        self._last_out: list[Any] = []
        self._last_used: set[str] = set()
        self._last_counts: dict[str, int] = {}
        self._last_calls = RequestCalls()

    def _free(self, base: str, occurrence: int, taken: Container[str] = ()) -> tuple[str, int]:
        """The id of ``occurrence`` of content ``base``, or of the first later occurrence
        whose id is neither retired nor ``taken``: the same walk in history and in requests,
        so both give an item the same id. Returns the id and its occurrence."""
        retired = self._retired
        while True:
            item_id = _occurrence_id(base, occurrence)
            if item_id not in retired and item_id not in taken:
                return item_id, occurrence
            occurrence += 1

    def _assign(self, base: str, occurrence: int, taken: Container[str] = ()) -> tuple[str, int]:
        """:meth:`_free`, handed out (counted as an occurrence)."""
        if occurrence == 1 and not taken and base not in self._retired:
            item_id = base  # _free's first answer for a first occurrence (every tool output)
        else:
            item_id, occurrence = self._free(base, occurrence, taken)
        self._generated[item_id] = occurrence
        if occurrence > self._occurrences.get(base, 0):
            self._occurrences[base] = occurrence
        return item_id, occurrence

    def for_history(
        self, item: Any, *, produced: object = None, call: str | None = None
    ) -> tuple[Any, str | None]:
        """An item entering the thread history: the item to record (a copy when an id was
        added or its call renamed; the caller's dict is never touched) and its id.

        Args:
            item: the item.
            produced: the response that produced it, when the model just did (see
                :meth:`.CallIds.produced`).
            call: for a tool's output, the recorded id of the call the tool ran.
        """
        if item.__class__ is dict:  # the common case (a tool's output), without the checks
            item_id = item.get("id")
            try:
                output = item_id.__class__ is not str and item.get("type") in CALL_OUTPUT_TYPES
            except TypeError:  # an unhashable type (an object, a list): no output
                output = False
            if output and (item_id is None or not isinstance(item_id, str)):
                return self._output_for_history(item, call)  # (a str subclass is an id)
        item = plain(item)
        if _has_id(item):
            item_id = item["id"]
        elif isinstance(item, Mapping):
            if is_call_output(item):
                return self._output_for_history(item, call)
            base = content_id(item)
            item_id = self._assign(base, self._occurrences.get(base, 0) + 1)[0]
            item = _with_id(item, item_id)
        else:
            return item, None
        if produced is not None:
            return self.calls.produced(item, item_id, produced), item_id
        return self.calls.entered(item, item_id, call), item_id

    def _output_for_history(self, item: Mapping[str, Any], call: str | None) -> tuple[Any, str]:
        """:meth:`for_history` for a tool's output without an id: its id comes from the
        call it answers, as recorded."""
        item = self.calls.entered(item, None, call)
        base = content_id(item)
        item_id = self._assign(base, self._occurrences.get(base, 0) + 1)[0]
        item = dict(item)  # _with_id, inline (every tool output)
        item["id"] = item_id
        self.calls.remember(item_id, item)
        return item, item_id

    def for_request(self, items: Sequence[Any]) -> list[Any]:
        """Items sent to the model, as recorded: the k-th id-less occurrence of some
        content in the list gets occurrence k, skipping ids the list already holds."""
        known = len(self._last_in)
        if known and len(items) >= known and same_items(items[:known], self._last_in):
            # the previous request resent, then new items: earlier ids stay as they were
            new = [plain(item) for item in items[known:]]
            used = self._last_used
            used.update(item["id"] for item in new if _has_id(item))
            counts = self._last_counts
            calls = self._last_calls
            out = self._last_out + self._number(new, used, counts, calls)
        else:
            plain_items = [plain(item) for item in items]
            used = {item["id"] for item in plain_items if _has_id(item)}
            counts = {}
            calls = RequestCalls()
            out = self._number(plain_items, used, counts, calls)
        self._last_in = list(items)
        self._last_out = out
        self._last_used = used
        self._last_counts = counts
        self._last_calls = calls
        return list(out)

    def _number(
        self, items: list[Any], used: set[str], counts: dict[str, int], request: RequestCalls
    ) -> list[Any]:
        out: list[Any] = []
        sent = self.calls.sent
        for item in items:
            if _has_id(item):
                # most items name no call: not even a call to see that
                try:
                    mentions = item.get("type") in MENTIONS
                except TypeError:  # an unhashable type (an object, a list): no call's
                    mentions = False
                out.append(sent(item, item["id"], request) if mentions else item)
                continue
            if not isinstance(item, Mapping):
                out.append(item)
                continue
            output = is_call_output(item)
            if output:  # its id comes from the call it answers, as recorded
                item = sent(item, None, request)
            base = content_id(item)
            item_id, counts[base] = self._assign(base, counts.get(base, 0) + 1, used)
            used.add(item_id)
            item = _with_id(item, item_id)
            if output:
                self.calls.remember(item_id, item)
                out.append(item)
            else:
                out.append(sent(item, item_id, request))
        return out

    def for_snapshot(self, items: Sequence[Any], *, cut: object = None) -> list[Any]:
        """Items outside history: ids without counting an occurrence.

        A compaction's output or a tool's answer names items by their first occurrence (a
        copy of a history item is that item). A cut response's output is new text the model
        wrote, which may equal an earlier item's (a second ``"ok"``): its items are handed
        out as their next occurrences (the ids a request resending them gives them), so that
        the reducers list them neither as the earlier item nor as a later one.

        Args:
            items: the items.
            cut: the response cut off that produced them, if they are its output (see
                :meth:`.CallIds.cut`).
        """
        calls = self.calls
        out = []
        for item in map(plain, items):
            if not _has_id(item) and isinstance(item, Mapping):
                if is_call_output(item):  # named first: its id comes from the call it answers
                    item = calls.seen(item)
                    out.append(_with_id(item, content_id(item)))
                    continue
                base = content_id(item)
                if cut is None:
                    item = _with_id(item, base)
                else:
                    item_id = self._assign(base, self._occurrences.get(base, 0) + 1)[0]
                    item = _with_id(item, item_id)
            out.append(calls.seen(item) if cut is None else calls.cut(item, cut))
        return out

    def reset_to(self, replacement: Sequence[Any]) -> None:
        """After a compaction the replacement history (as returned by :meth:`for_request`)
        is all the history there is; numbering restarts from what it holds, and the ids it
        dropped are retired (an item acceptance names by an id the reducer keeps forever)."""
        self._last_in = []
        occurrences: dict[str, int] = {}
        generated: dict[str, int] = {}
        for item in replacement:
            occurrence = self._generated.get(item["id"]) if _has_id(item) else None
            if occurrence is not None:
                base = _base_of(item["id"], occurrence)
                occurrences[base] = max(occurrences.get(base, 0), occurrence)
                generated[item["id"]] = occurrence
        self._retired.update(self._generated.keys() - generated.keys())
        self._occurrences = occurrences
        self._generated = generated


# --- agent messages ----------------------------------------------------------------------------

MessageType = Literal["NEW_TASK", "MESSAGE", "FINAL_ANSWER"]


def agent_message(
    author: str,
    recipient: str,
    text: str,
    *,
    encrypted_content: str | None = None,
    item_id: str | None = None,
) -> dict[str, Any]:
    """An ``agent_message`` item as Codex delivers it between agents (paths like ``/root``).

    The reducer matches a delivery to its interaction edge by content: the encrypted part
    when present, else the text.

    Args:
        author: the sending agent's path.
        recipient: the receiving agent's path.
        text: the message's visible text.
        encrypted_content: the message's encrypted part, if any.
        item_id: the item's id, when it already has one.

    Returns:
        The item, ready for :meth:`Turn.accept_agent_message`.
    """
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    if encrypted_content is not None:
        content.append({"type": "encrypted_content", "encrypted_content": encrypted_content})
    item: dict[str, Any] = {"type": "agent_message"}
    if item_id is not None:
        item["id"] = item_id
    item.update(author=author, recipient=recipient, content=content)
    return item


def _header(message_type: MessageType, task_name: str, sender: str) -> str:
    return (
        f"Message Type: {message_type}\nTask name: {task_name}\nSender: {sender}{ENVELOPE_PAYLOAD}"
    )


def task_message(
    sender: str, recipient: str, message: str, *, message_type: MessageType = "NEW_TASK"
) -> dict[str, Any]:
    """The item delivering a task or note to an agent: a header plus the message itself as the
    encrypted part (what spawn_agent / send_message / followup_task edges match on).

    Args:
        sender: the sending agent's path.
        recipient: the receiving agent's path (also the header's task name).
        message: the task or note itself.
        message_type: the header's message type.

    Returns:
        The ``agent_message`` item to deliver with :meth:`Turn.accept_agent_message`.
    """
    return agent_message(
        sender,
        recipient,
        _header(message_type, recipient, sender),
        encrypted_content=message,
    )


def final_answer_text(sender: str, recipient: str, answer: str) -> str:
    """The text a child's result is delivered as; the agent-result edge matches on it.

    Args:
        sender: the child's agent path (who answers).
        recipient: the parent's agent path (who receives it).
        answer: the child's final answer.

    Returns:
        The message text, with the header the reducers recognise.
    """
    return _header("FINAL_ANSWER", recipient, sender) + answer


# --- token usage -------------------------------------------------------------------------------


@attrs.frozen
class TokenUsage:
    """Token counts of one inference call, in Codex's field names."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    cache_write_input_tokens: int = 0
    total_tokens: int | None = None

    def to_payload(self) -> dict[str, int]:
        """The usage as recorded in an inference response payload.

        Returns:
            The counts by Codex's field names; ``total_tokens`` is input plus output when
            it was not given.
        """
        total = self.total_tokens
        if total is None:
            total = self.input_tokens + self.output_tokens
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_input_tokens": self.cache_write_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
            "total_tokens": total,
        }
