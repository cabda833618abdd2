"""Schema 3: the history is paid once.

An agent loop resends its whole history with every request. Schema 2 stores every request
whole, so a bundle grows with the square of the number of steps. Schema 3 lets a payload be a
*template* (v3.md §4): a JSON array of text fragments with ``parts`` (references to other
payloads) spliced between them. This module stores each conversation item once, as a
``model_item`` payload, and writes requests, responses and prepared prompts as templates over
those items. Large content values (image data URLs, very long strings) are cut out of their
items into ``content_value`` payloads, stored once per distinct content, and so are a
request's large top-level values (``tools``, instructions), which every request repeats
(``_content_values`` stores those, and makes the templates).

What it costs per request must follow the *new* items, not the history:

* **Recognising stored items.** Each thread keeps the objects of its last request plus the
  response that followed, with their references. A request that starts with those objects
  (the usual ``history + new`` list) is matched by one list comparison in C, which tests
  identity before equality, so the old items are neither walked nor serialised. Anything else
  is looked up by object identity (the objects are kept alive while the thread's last request
  holds them, so an ``id()`` is never reused under us), and then by a content key: the
  SHA-256 digest of the item's JSON, which a new item needs anyway to be stored. Like any
  identity cache this assumes a dict already sent is not changed in place afterwards (the
  Responses API and Codex treat history items as immutable); an edited item should be a new
  dict, which is then stored as new content.
* **References in events are inline trees.** Codex repeats a template's whole ``parts`` tree
  wherever the reference appears, so an event line naming every history item costs ~75 bytes
  per item; over N steps that is still quadratic. Two things keep the lines short:
  - *Incremental requests.* When a request is exactly the previous request of the thread,
    then that request's response items, then new items, the previous request was not itself
    a continuation (its recorded items are then only its new ones, not the history the
    reducers rebuild for it), and the previous response had a
    ``response_id`` no other call of the thread used, the request is recorded as what the
    Responses API itself accepts: ``previous_response_id`` plus only the new items. The
    reducer rebuilds the same history (its prefix rule: the earlier call's request items and
    response items, then the delta), and the event names only the new items.
  - *Chained prompts.* A ``prepared_prompt`` is never read by the reducer. A prompt whose
    history starts with the previous prompt's names it in ``input_prefix_payload`` and lists
    only the items after it; the full prompt is the chain followed back.
* **Bytes at enqueue.** Everything is turned into bytes here (the caller may mutate its dicts
  right after); queued records are tuples of bytes, which the garbage collector never scans.

The store talks to storage through one function, ``put(kind, body, parts) -> RawPayloadRef``
(the writer's ``ShardPlan.place`` plus its queue), so it can be tested without a recorder.
Thread-safe: a lock serialises its calls (an agent may record from worker threads); the
``put`` it is given must be safe to call from whichever thread calls the store.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs
import orjson

from ..model.events import PayloadKind, RawPayloadRef
from ._content_values import (
    CONTENT_VALUE_MIN_CHARS,
    DATA_URL_MIN_CHARS,
    DIGEST,
    HOLE,
    SPLIT_MIN_CHARS,
    ContentValues,
    Dumps,
    Put,
    PutFrozen,
    PutOutput,
    holds_long_string,
    template_body,
)
from ._held import same_items
from ._known_refs import KnownRefs, freeze, thaw

#: How deep :func:`~._content_values.holds_long_string` looks into an item.
_CUT_DEPTH: Final = 4
#: Objects remembered by identity from :meth:`ItemStore.item` until a request uses them: the
#: tool outputs of one step (more than this between two requests are found by content).
#: Few, so they do not outlive the collector's young generations for long.
_RECENT_MAX: Final = 128
#: A tool result answering the model with one stored item (its one part).
_DIRECT_RESPONSE: Final = orjson.dumps(['{"type":"direct_response","response_item":', "}"])

_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Run ``method`` under the store's lock."""

    @functools.wraps(method)
    def call(self: ItemStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


@attrs.frozen
class RequestRefs:
    """What :meth:`ItemStore.request` stored for one inference request."""

    request: RawPayloadRef
    prompt: RawPayloadRef
    #: the request was recorded as ``previous_response_id`` + the new items
    incremental: bool
    #: references of every input item, in request order
    item_refs: tuple[RawPayloadRef, ...]


class _Thread:
    """One thread's view of the last request (and the response after it)."""

    __slots__ = (
        "complete",
        "items",
        "keep",
        "last",
        "prompt",
        "prompt_len",
        "refs",
        "response_id",
        "response_ids",
    )

    def __init__(self) -> None:
        #: the objects of the last request, then of its response; ``refs`` in parallel
        self.items: list[Any] = []
        self.refs: list[RawPayloadRef] = []
        #: id(obj) -> (obj, ref): the objects are kept alive so the ids stay theirs
        self.keep: dict[int, tuple[Any, RawPayloadRef]] = {}
        self.last: RequestRefs | None = None
        #: the last request's response id, when an incremental request may build on it
        self.response_id: str | None = None
        self.response_ids: dict[str, int] = {}
        #: every payload behind ``items`` is stored whole (none truncated or omitted)
        self.complete = True
        self.prompt: RawPayloadRef | None = None
        self.prompt_len = 0


class ItemStore:
    """Conversation items stored once; requests, responses and prompts as templates."""

    __slots__ = (
        "_by_content",
        "_content_min",
        "_contents",
        "_dumps",
        "_dumps_shallow",
        "_incremental",
        "_lazy",
        "_lock",
        "_max_payload",
        "_put",
        "_put_frozen",
        "_put_kept",
        "_put_output",
        "_recent",
        "_recent_refs",
        "_threads",
    )

    def __init__(
        self,
        put: Put,
        *,
        incremental: bool = True,
        content_value_min_chars: int = CONTENT_VALUE_MIN_CHARS,
        max_payload_bytes: int | None = None,
        dumps: Dumps = orjson.dumps,
        lazy_strings: bool = False,
        put_frozen: PutFrozen | None = None,
        put_output: PutOutput | None = None,
        put_kept: Put | None = None,
        dumps_shallow: Dumps | None = None,
    ) -> None:
        """
        Args:
            put: stores one payload and returns its reference.
            incremental: record requests that extend the previous one as deltas (above).
            content_value_min_chars: strings this long become content values.
            max_payload_bytes: the writer's per-payload limit; an item over it keeps its
                structure and loses only its long strings (cut into truncated content values).
            dumps: the JSON serialiser for items and bodies.
            lazy_strings: ``put`` takes bodies whose long strings are escaped later (a
                :class:`~._deferred.LazyBody`, in the writer's worker thread): a long
                string is then cut out of its item before anything is serialised, and
                stored as a content value keyed by the digest of its UTF-8 bytes, so the
                event loop never escapes it (only hashes it once, to store it once).
            put_frozen: ``put`` giving the reference flat (``_known_refs.freeze``), when the
                writer has one (no limits): :meth:`tool_output` then makes no reference object.
            put_output: with ``put_frozen``, a new item's body and its result's (the
                ``direct_response`` template) stored in one call, the result over the item,
                both references flat (the writer's ``put_output_frozen``).
            put_kept: ``put`` past the writer's budget for a small body (a response's
                template, so a dropped answer's usage is kept); ``put`` when not given.
            dumps_shallow: ``dumps`` for a value one level deep (a dict of scalars), where
                it may skip what only deep nesting needs (the writer's: the depth check of
                schema 3's bodies); ``dumps`` when not given.
        """
        self._put = put
        self._put_kept = put_kept or put
        self._dumps = dumps
        self._dumps_shallow = dumps_shallow or dumps
        self._lock = threading.RLock()
        self._incremental = incremental
        self._content_min = max(int(content_value_min_chars), 1)
        self._max_payload = max_payload_bytes
        # with a per-payload limit every body's exact size is needed at once: no lazy bodies
        self._lazy = lazy_strings and max_payload_bytes is None
        # the hot path follows the lazy setting only (the writer's without limits)
        self._put_frozen = put_frozen if self._lazy else None
        self._put_output = put_output if self._put_frozen is not None else None
        self._threads: dict[str, _Thread] = {}
        self._by_content = KnownRefs()
        #: content values (long strings, images, shared request values)
        self._contents = ContentValues(put, dumps, lazy=self._lazy)
        # objects given to item() lately (a tool output accepted into history), kept alive so
        # the request that carries the same object next finds it without serialising it
        self._recent: dict[int, Any] = {}
        #: their references, frozen (see ``_known_refs``), by the same ids
        self._recent_refs: dict[int, tuple[Any, ...]] = {}

    def after_fork(self) -> None:
        """In a forked child: a fresh lock. The parent's may have been held by one of its
        threads (a tool finished in a worker thread, storing its output), which the child
        does not have: the child's next call storing an item waited for it for good."""
        self._lock = threading.RLock()

    # --- single items ----------------------------------------------------------------------

    @_locked
    def item(self, item: Any) -> RawPayloadRef:
        """The ``model_item`` reference of ``item``, storing it on first sight (by content).

        Use it for a tool output accepted into history (``tool_output_payload``): the next
        request that carries the item references the same payload."""
        ref = self._by_value(item)
        recent = self._recent
        if len(recent) >= _RECENT_MAX:  # the oldest goes (found by content if sent later)
            oldest = next(iter(recent))
            del recent[oldest]
            self._recent_refs.pop(oldest, None)
        recent[id(item)] = item
        self._recent_refs[id(item)] = freeze(ref)
        return ref

    def tool_output(self, item: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """:meth:`item` then :meth:`tool_result`, in one call and with the references flat
        (``_known_refs.freeze``): the hot path of a tool's output (``ToolCall.completed``),
        which makes no reference object. The same payloads as those two calls, in the same
        order. ``None`` (nothing done) where it would differ from them: no flat ``put``, or
        an item holding a long string (cut out before it is serialised). An item that may
        hold another content value (a ``data:`` URL) is stored as :meth:`item` stores it,
        from the text serialised here: serialising it again would count what the value
        encoder changed in it (a set, a non-string key) twice.

        Returns:
            The item's reference and the result's, flat.
        """
        put = self._put_frozen
        if put is None:
            return None
        minimum = self._content_min
        with self._lock:
            shallow = _scalars_only(item, minimum)
            if shallow is None or (not shallow and holds_long_string(item, minimum, _CUT_DEPTH)):
                return None
            data = (self._dumps_shallow if shallow else self._dumps)(item)
            key = hashlib.sha256(data).digest()[:DIGEST]
            known = self._by_content
            ref = known.frozen(key)
            result = None
            if ref is None:
                # a long string at any depth makes a long text; a data: URL deeper than
                # holds_long_string looks is found in the text (a dict of scalars has none)
                if len(data) >= minimum or (not shallow and b'"data:' in data):
                    # _store_item cuts its content values out (a template over them)
                    ref = freeze(self._store_item(item, data))
                else:
                    if self._put_output is not None:  # both payloads in one call, when it can
                        ref, result = self._put_output(data, _DIRECT_RESPONSE)
                    else:
                        ref = put("model_item", data, ())
                known.add_frozen(key, ref)
            recent = self._recent
            if len(recent) >= _RECENT_MAX:  # as in item()
                oldest = next(iter(recent))
                del recent[oldest]
                self._recent_refs.pop(oldest, None)
            recent[id(item)] = item
            self._recent_refs[id(item)] = ref
            if result is not None:
                return ref, result
            if ref[4] is None and not ref[5]:  # stored whole, no parts (see tool_result)
                return ref, put("tool_result", _DIRECT_RESPONSE, (ref,))
            return ref, freeze(self.tool_result(thaw(ref), item))

    def _take_recent(self, item: Any) -> RawPayloadRef | None:
        """The reference :meth:`item` gave ``item`` lately, if it did (forgotten then)."""
        kept = self._recent.pop(id(item), None)
        fields = self._recent_refs.pop(id(item), None)
        return thaw(fields) if kept is item and fields is not None else None

    def _by_value(self, item: Any) -> RawPayloadRef:
        if self._lazy and holds_long_string(item, self._content_min, _CUT_DEPTH):
            ref = self._by_template(item)
            if ref is not None:
                return ref
        data = self._dumps(item)
        key = hashlib.sha256(data).digest()[:DIGEST]
        ref = self._by_content.get(key)
        if ref is None:
            ref = self._by_content.add(key, self._store_item(item, data))
        return ref

    def _by_template(self, item: Any) -> RawPayloadRef | None:
        """An item holding a long string: its content values first (each string hashed once,
        escaped later), then the item as a template over them, keyed by the template's bytes
        and its parts (equal parts are the same payload). ``None`` when none was cut out:
        its long strings are all kept whole (``encrypted_content``), and a template of one
        fragment and no part (``["{...}"]``) is what both reducers read as the item, one
        without a ``type``, refusing the bundle (live43)."""
        holes: list[RawPayloadRef] = []
        value = self._contents.cut(item, self._content_min, holes)
        if not holes:
            return None
        body = template_body(value, holes, self._dumps)
        digest = hashlib.sha256(body)
        for hole in holes:
            digest.update(b"\x00" + hole.raw_payload_id.encode())
        key = digest.digest()[:DIGEST]
        ref = self._by_content.get(key)
        if ref is None:
            ref = self._by_content.add(key, self._put("model_item", body, tuple(holes)))
        return ref

    def _store_item(self, item: Any, data: bytes) -> RawPayloadRef:
        limit = self._max_payload
        over = limit is not None and len(data) > limit
        # walk the item only when a content value can be in it (a C search decides)
        if over or len(data) >= self._content_min or b'"data:' in data:
            minimum = SPLIT_MIN_CHARS if over else self._content_min
            holes: list[RawPayloadRef] = []
            value = self._contents.cut(item, minimum, holes)
            if holes:
                return self._put(
                    "model_item", template_body(value, holes, self._dumps), tuple(holes)
                )
        return self._put("model_item", data, ())

    def tool_result(self, item_ref: RawPayloadRef, item: Any) -> RawPayloadRef:
        """A ``tool_result`` answering the model with ``item`` (stored as ``item_ref``): a
        template ``{"type": "direct_response", "response_item": <item>}`` over it, so a
        tool's output is stored once. Unless the item was not kept whole (a limit, a full
        queue): Codex 0.171 reads a ``write_stdin``'s result whole, and refuses the bundle
        for a template over a part not kept ("partial payload <id>"); a body of its own."""
        if item_ref.capture is None and (not item_ref.parts or not item_ref.unkept_parts()):
            return self._put("tool_result", _DIRECT_RESPONSE, (item_ref,))
        body = self._dumps({"type": "direct_response", "response_item": item})
        return self._put("tool_result", body, ())

    # --- requests --------------------------------------------------------------------------

    @_locked
    def request(self, thread_id: str, body: Mapping[str, Any], items: Sequence[Any]) -> RequestRefs:
        """Store an inference request (``body`` with ``input`` = ``items``) and its prompt.

        Args:
            thread_id: the thread the request belongs to (histories are per thread).
            body: the request as recorded; its ``input`` is replaced by ``items``.
            items: the input items, ids already assigned.

        Returns:
            The request and prompt references (and each item's).
        """
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = self._threads[thread_id] = _Thread()
        known = len(thread.items)
        if known and len(items) >= known and same_items(items[:known], thread.items):
            start = known  # the usual case: the previous history, then new items
            new_refs = [self._lookup(thread, item) for item in items[known:]]
            refs = thread.refs + new_refs
        else:
            start = 0
            refs = self._rebuild(thread, items)
        rid = thread.response_id
        incremental = (
            self._incremental
            and rid is not None
            and start == known
            and thread.complete
            and "previous_response_id" not in body
        )
        request = dict(body)
        if incremental:
            request["previous_response_id"] = rid
            delta = refs[start:]
        else:
            delta = refs
        request_ref = self._list_payload("inference_request", request, "input", delta, share=True)
        prompt_ref = self._prompt(thread, body, refs, start)
        result = RequestRefs(request_ref, prompt_ref, incremental, tuple(refs))
        thread.items = list(items)
        thread.refs = refs
        whole = thread.complete if start else True  # the prefix's payloads, when one was kept
        thread.complete = whole and _all_available(refs[start:]) and request_ref.available
        thread.response_id = None
        # a request continuing a response holds only its new items: a later request resending
        # them and their answer does not resend the history the reducers rebuild for it
        thread.last = None if "previous_response_id" in body else result
        return result

    def _lookup(self, thread: _Thread, item: Any) -> RawPayloadRef:
        kept = thread.keep.get(id(item))
        if kept is not None and kept[0] is item:
            ref = kept[1]
        else:
            ref = self._take_recent(item) or self._by_value(item)
        thread.keep[id(item)] = (item, ref)
        return ref

    def _rebuild(self, thread: _Thread, items: Sequence[Any]) -> list[RawPayloadRef]:
        """References for a history that is not the previous one extended: by identity,
        then content. The identity map is rebuilt to hold only these objects."""
        old = thread.keep
        keep: dict[int, tuple[Any, RawPayloadRef]] = {}
        refs: list[RawPayloadRef] = []
        for item in items:
            kept = old.get(id(item))
            if kept is not None and kept[0] is item:
                ref = kept[1]
            else:
                ref = self._take_recent(item) or self._by_value(item)
            keep[id(item)] = (item, ref)
            refs.append(ref)
        thread.keep = keep
        return refs

    def _list_payload(
        self,
        kind: PayloadKind,
        value: Mapping[str, Any],
        key: str,
        parts: Sequence[RawPayloadRef],
        *,
        share: bool = False,
        kept: bool = False,
    ) -> RawPayloadRef:
        """``value`` with ``value[key]`` = the spliced ``parts``: a template (plain JSON
        when there are no parts). With ``share``, the other top-level values of at least
        ``SHARED_VALUE_MIN_BYTES`` (a request's ``tools`` and instructions, sent again with
        every request) become content values, stored once."""
        copy = dict(value)  # holds ``key``: each caller's body has it (a None to fill)
        holes: list[RawPayloadRef] = []
        for name, item in copy.items():
            if name == key:
                copy[name] = [HOLE] * len(parts)
                holes.extend(parts)
            elif share and item:
                shared = self._contents.shared(item)
                if shared is not None:
                    copy[name] = HOLE
                    holes.append(shared)
        put = self._put_kept if kept else self._put
        if not holes:
            return put(kind, self._dumps(copy), ())
        return put(kind, template_body(copy, holes, self._dumps), tuple(holes))

    def _prompt(
        self,
        thread: _Thread,
        body: Mapping[str, Any],
        refs: list[RawPayloadRef],
        start: int,
    ) -> RawPayloadRef:
        """The prepared prompt: ``input`` (items), ``tools``, ``parallel_tool_calls``. When
        the history extends the previous prompt's, only the items after it are listed and
        ``input_prefix_payload`` names that prompt."""
        prompt: dict[str, Any] = {}
        previous = thread.prompt
        first = 0
        if previous is not None and start and start >= thread.prompt_len:
            prompt["input_prefix_payload"] = previous.raw_payload_id
            first = thread.prompt_len
        prompt["input"] = None
        prompt["tools"] = body.get("tools", [])
        prompt["parallel_tool_calls"] = body.get("parallel_tool_calls", False)
        ref = self._list_payload("prepared_prompt", prompt, "input", refs[first:], share=True)
        thread.prompt = ref
        thread.prompt_len = len(refs)
        return ref

    # --- responses -------------------------------------------------------------------------

    @_locked
    def response(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        output_items: Sequence[Any],
        *,
        request: RequestRefs | None = None,
        kept: bool = False,
    ) -> RawPayloadRef:
        """Store an inference response (``body`` with ``output_items`` = ``output_items``),
        its items as model items; with ``kept``, the response's own template (its usage and
        a reference per item, small) past the writer's budget (``RecordQueue.payload_kept``).

        Args:
            thread_id: the thread of the inference.
            body: ``response_id``, ``upstream_request_id``, ``token_usage`` (Codex's shape).
            output_items: the output items as recorded (ids assigned).
            request: the request this answers; when it is the thread's latest, the response
                extends the thread's history (the next request may build on it).

        Returns:
            The response's reference.
        """
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = self._threads[thread_id] = _Thread()
        refs = [self._lookup(thread, item) for item in output_items]
        ref = self._list_payload("inference_response", body, "output_items", refs, kept=kept)
        rid = body.get("response_id")
        if isinstance(rid, str):
            thread.response_ids[rid] = thread.response_ids.get(rid, 0) + 1
        if request is not None and request is thread.last:
            thread.items.extend(output_items)
            thread.refs.extend(refs)
            thread.complete = thread.complete and ref.available and _all_available(refs)
            unique = isinstance(rid, str) and thread.response_ids[rid] == 1
            thread.response_id = rid if unique else None
            thread.last = None  # one response per request
        else:
            thread.response_id = None
        return ref

    @_locked
    def reset(self, thread_id: str) -> None:
        """Forget the thread's history (after a compaction replaced it): the next request is
        matched item by item and recorded whole."""
        thread = self._threads.get(thread_id)
        if thread is not None:
            thread.items = []
            thread.refs = []
            thread.response_id = None
            thread.last = None
            thread.prompt = None
            thread.prompt_len = 0


def _scalars_only(item: Any, minimum: int) -> bool | None:
    """Whether ``item`` is a dict of strings, numbers, booleans and nulls only (a tool's
    usual output), none of its strings a content value (``None`` when one is: see
    :func:`~._content_values.holds_long_string`, whose test this is at the top level). Such
    an item nests one level deep and holds nothing further down: the long-string walk, the
    ``data:`` search and the serialiser's depth check have nothing to find in it."""
    if item.__class__ is not dict:
        return False
    for value in item.values():
        kind = value.__class__
        if kind is str:
            size = len(value)
            if size >= DATA_URL_MIN_CHARS and (size >= minimum or value.startswith("data:")):
                return None
        elif value is not None and kind is not int and kind is not float and kind is not bool:
            return False
    return True


def _all_available(refs: Sequence[RawPayloadRef]) -> bool:
    return all(part.available for ref in refs for part in ref.walk())
