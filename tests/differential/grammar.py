"""A seeded grammar over trace events: random *scenarios* (not byte mutations) of several
threads, turns, inferences, acceptances, tools (legacy local shell calls among them),
terminals, code cells, compactions and collab events, over items of every kind the reducer reads
(``grammar_items``: image generation and local shell calls too), written as schema-2 or schema-3 bundles by :class:`BundleBuilder`.

Ids come from small pools so that they collide often (an item id requested, accepted with a
payload and re-sent by another thread; a call id claimed by two tools; a response id reused),
which is where the reducer's rules depend on how events combine. Each step picks a context
that exists most of the time (a started turn of a started thread), so most bundles reach their
end; a few steps name unknown or duplicate things on purpose, to exercise the refusals too.
``tests/differential/test_grammar_vs_codex.py`` reduces each bundle with ours and with Codex.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import BundleBuilder

from .grammar_cuts import Cuts
from .grammar_items import (
    CALL_IDS,
    CELLS,
    CHILDREN,
    ITEM_IDS,
    OTHER_OUTPUTS,
    OUTPUT_TYPES,
    PASSTHROUGH,
    PATHS,
    RESPONSE_IDS,
    ROOT,
    TEXTS,
    Items,
)
from .grammar_tools import ToolSteps


class Grammar(ToolSteps):
    """One random scenario: ``Grammar(root, schema, seed).run()`` writes the bundle."""

    #: how many steps a scenario takes between its first turn and its end (the longer, the
    #: more often a step names something that collides, and the bundle is refused)
    steps = (3, 30)

    def __init__(self, root: Path, schema: int, seed: int, *, later: bool = True) -> None:
        """``later=False``: none of the kinds added later (``Items.later``): a seed's scenario as
        it was before them (regression tests pinned to a seed that found something)."""
        self.rng = random.Random(seed)
        #: choices added later, drawn apart so that each seed's other choices stay as they were
        self.more = random.Random(f"more-{seed}")
        self.schema = schema
        self.b = BundleBuilder(root, schema=schema, root_thread_id=ROOT, autoflush=False)
        #: thread → its turns; thread → the history the next full request resends
        self.turns: dict[str, list[str]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.ended: set[str] = set()
        self.pending: list[tuple[str, str, str]] = []  # running inferences (call, thread, turn)
        self.finished: list[tuple[str, str, str]] = []  # inferences that have ended
        self.responses: dict[str, list[str]] = {}  # thread → response ids it completed
        self.inferences = 0
        self.tools: dict[str, tuple[str, str, str]] = {}  # tool → (thread, turn, name)
        self.visible: set[str] = set()  # model-visible call ids some tool holds
        self.cells: dict[str, list[str]] = {}  # thread → started runtime cell ids
        self.cell_calls: set[str] = set()  # the model-visible call ids of started cells
        self.bare_tools: set[str] = set()  # tools started without an invocation
        self.correlated: set[str] = set()  # tools with an MCP call id
        self.compactions = 0
        self.items = Items(self.rng, self.turns, random.Random(f"later-{seed}") if later else None)
        self.cuts = Cuts(self.b, random.Random(f"cuts-{seed}")) if later and schema == 3 else None
        self.requests: list[tuple[str, str]] = []  # running compaction requests
        self.requested: list[str] = []  # compactions requested and not installed yet

    # --- steps --------------------------------------------------------------------------------

    def run(self) -> Path:
        b = self.b
        if self.chance(0.95):
            b.event(ev.RolloutStarted("trace-1", ROOT))
        self.start_thread(ROOT)
        self.start_turn()
        steps: list[tuple[Callable[[], None], int]] = [
            (self.start_thread_step, 4),
            (self.start_turn, 5),
            (self.end_turn, 4),
            (self.infer, 22),
            (self.finish_inference, 8),
            (self.accept, 14),
            (self.tool_start, 8),
            (self.tool_runtime, 6),
            (self.tool_end, 6),
            (self.tool_link, 3),
            (self.code_cell, 5),
            (self.compaction, 4),
            (self.agent_result, 2),
            (self.thread_end, 2),
            (self.protocol_event, 1),
        ]
        for _ in range(self.rng.randint(*self.steps)):
            step = self.rng.choices([s for s, _ in steps], [w for _, w in steps])[0]
            step()
        self.finish()
        return b.flush()

    def start_thread(self, thread: str) -> None:
        metadata: dict[str, Any] = {"thread_id": thread, "agent_path": PATHS[thread]}
        if thread != ROOT:
            spawn = {"parent_thread_id": ROOT, "depth": 1, "agent_path": PATHS[thread]}
            metadata["session_source"] = {"subagent": {"thread_spawn": spawn}}
        ref = self.payload("session_metadata", metadata) if self.chance(0.9) else None
        self.b.event(ev.ThreadStarted(thread, PATHS[thread], ref))
        self.turns.setdefault(thread, [])
        self.history.setdefault(thread, [])

    def start_thread_step(self) -> None:
        fresh = [t for t in CHILDREN if t not in self.turns]
        if fresh or self.chance(0.05):
            thread = self.pick(fresh or list(CHILDREN))
            self.start_thread(thread)
            self.start_turn(thread)

    def start_turn(self, thread: str | None = None) -> None:
        thread = thread or self.pick(list(self.turns))
        turn = f"turn-{sum(len(t) for t in self.turns.values()) + 1}"
        if self.chance(0.01) and self.turns[thread]:
            turn = self.turns[thread][0]  # a duplicate start
        self.b.event(ev.CodexTurnStarted(turn, thread), thread=thread, turn=turn)
        if turn not in self.turns[thread]:
            self.turns[thread].append(turn)
        if self.chance(0.6):  # the turn's user message, accepted before it is requested
            user = self.items.item(("message",))
            user["role"] = "user"
            if "id" in user:
                self.emit_accept(user["id"], thread, turn)
            self.history[thread].append(user)

    def end_turn(self) -> None:
        where = self.context()
        if where is not None:
            thread, turn = where
            status = self.pick(ev.EXECUTION_STATUSES)
            self.b.event(ev.CodexTurnEnded(turn, status), thread=thread, turn=turn)

    def infer(self) -> None:
        where = self.context()
        if where is None:
            return
        thread, turn = where
        self.inferences += 1
        call = f"inf-{self.inferences}" if not self.chance(0.005) else "inf-1"
        sent = self.edited(self.history[thread])
        others = [t for t in self.history if t != thread and self.history[t]]
        if others and self.chance(0.05):  # a forked agent resends its parent's history
            sent = self.history[self.pick(others)] + sent
        body: dict[str, Any] = {"model": "gpt-test", "input": sent}
        known = self.responses.get(thread, [])
        if known and self.chance(0.2):
            # mostly the thread's last response (an earlier one is matched against a
            # snapshot that has moved on, which Codex often refuses)
            body["previous_response_id"] = known[-1] if self.chance(0.8) else self.pick(known)
            body["input"] = [self.items.item() for _ in range(self.rng.randint(0, 2))]
        elif self.chance(0.005):
            body["previous_response_id"] = "r-unknown"
        request = self.payload("inference_request", body)
        started = ev.InferenceStarted(call, thread, turn, "gpt-test", "test-provider", request)
        if self.schema == 3:
            started = self.v3_start(started, body)
        self.b.event(started, thread=thread, turn=turn)
        self.history[thread] = (
            list(body["input"])
            if "previous_response_id" not in body
            else (self.history[thread] + list(body["input"]))
        )
        self.pending.append((call, thread, turn))
        if self.chance(0.7):
            self.finish_inference(len(self.pending) - 1)

    def v3_start(self, started: ev.InferenceStarted, body: dict[str, Any]) -> ev.InferenceStartedV3:
        """Schema 3's start: its prepared prompt, now and then a warm-up context (an edited
        copy of the input) and a stripped id given back to an id-less tool output."""
        prompt = (self.cuts and self.cuts.take_prompt()) or self.b.last_prompt
        assert prompt is not None
        warmup = None
        if self.chance(0.05):
            warmup = self.payload("warmup_context", {"input": self.edited(body["input"])})
        stripped = None
        idless = [
            n for n, i in enumerate(body["input"]) if i["type"] in OUTPUT_TYPES and "id" not in i
        ]
        if idless and self.chance(0.3):
            stripped = ((self.pick(idless), self.pick(ITEM_IDS)),)
        return ev.InferenceStartedV3(
            started.inference_call_id,
            started.thread_id,
            started.codex_turn_id,
            started.model,
            started.provider_name,
            started.request_payload,
            prompt,
            warmup,
            stripped,
        )

    def edited(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The history a full request resends: mostly as it is, sometimes with an item left
        out, moved, replaced or added."""
        sent = list(history)
        if sent and self.chance(0.15):
            sent.pop(self.rng.randrange(len(sent)))
        if len(sent) > 1 and self.chance(0.1):
            n = self.rng.randrange(len(sent))
            sent.insert(self.rng.randrange(len(sent)), sent.pop(n))
        if sent and self.chance(0.1):
            n = self.rng.randrange(len(sent))
            sent[n] = {**self.items.item(), **({"id": sent[n]["id"]} if "id" in sent[n] else {})}
        for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
            sent.insert(self.rng.randint(0, len(sent)), self.items.item())
        return sent

    def passed_through(self, items: list[dict[str, Any]], turn: str) -> list[dict[str, Any]]:
        """A checkpoint's items as Codex resends them, often with the metadata it passes
        through (a remote compaction's), now and then nested in an item or of another shape."""
        if self.more.random() < 0.5:
            return items
        out = []
        for item in items:
            roll = self.more.random()
            metadata: Any = {"turn_id": turn} if roll < 0.8 else self.more.choice([None, "x", []])
            if roll < 0.95:
                out.append({**item, PASSTHROUGH: metadata})
            else:
                out.append({**item, "action": {PASSTHROUGH: metadata}})
        return out

    def finish_inference(self, index: int | None = None) -> None:
        """A running inference ends (now and then one that had ended already, late)."""
        if self.finished and (not self.pending or self.chance(0.03)):
            call, thread, turn = self.pick(self.finished)
        elif self.pending:
            index = self.rng.randrange(len(self.pending)) if index is None else index
            call, thread, turn = self.pending.pop(index)
            self.finished.append((call, thread, turn))
        else:
            return
        outcome = self.rng.choices(["completed", "failed", "cancelled"], [85, 10, 5])[0]
        output = [self.items.item() for _ in range(self.rng.choice([0, 1, 1, 2, 3]))]
        usage = None
        if self.chance(0.5):
            usage = {k: self.rng.randint(0, 9) for k in ("input_tokens", "output_tokens")}
            usage.update(cached_input_tokens=0, reasoning_output_tokens=0)
        body = {"response_id": None, "token_usage": usage, "output_items": output}
        if outcome == "completed":
            response_id = self.pick(RESPONSE_IDS) if self.chance(0.8) else None
            ref = self.payload("inference_response", body)
            done: ev.EventPayload = ev.InferenceCompleted(call, response_id, None, ref)
            if response_id is not None:
                self.responses.setdefault(thread, []).append(response_id)
        else:
            partial = self.payload("inference_response", body) if self.chance(0.5) else None
            done = (
                ev.InferenceFailed(call, None, "boom", partial)
                if outcome == "failed"
                else ev.InferenceCancelled(call, None, "stop", partial)
            )
        self.b.event(done, thread=thread, turn=turn)
        if outcome == "completed" or self.chance(0.3):
            for item in output:
                self.history[thread].append(item)
                if "id" in item and self.chance(0.8):
                    self.emit_accept(item["id"], thread, turn, item)

    def emit_accept(
        self, item_id: str, thread: str, turn: str | None, item: dict[str, Any] | None = None
    ) -> None:
        """An acceptance as Codex writes it: agent messages with their receipt, and in
        schema 3 tool outputs with their ``tool_output_payload``."""
        receipt = output = None
        if item is not None and item["type"] == "agent_message":
            receipt = self.payload("protocol_event", item)
        elif item is not None and self.schema == 3 and item["type"] in OUTPUT_TYPES:
            output = self.payload("protocol_event", item)
        self.accept_event(item_id, thread, turn, receipt, output)

    def accept_event(
        self,
        item_id: str,
        thread: str | None,
        turn: str | None,
        receipt: ev.RawPayloadRef | None,
        output: ev.RawPayloadRef | None,
    ) -> None:
        if self.schema == 3:
            accepted: ev.EventPayload = ev.HistoryItemAcceptedV3(item_id, receipt, output)
        else:
            accepted = ev.HistoryItemAccepted(item_id, receipt)
        self.b.event(accepted, thread=thread, turn=turn)

    def accept(self) -> None:
        """An acceptance of a pooled id, now and then carrying an item (matching or not)."""
        where = self.context()
        if where is None:
            return
        thread, turn = where
        item_id = self.pick(ITEM_IDS)
        envelope_turn = self.pick([turn, turn, turn, None, "turn-x"])
        if self.chance(0.01):
            thread = self.pick([None, "thread-unknown"])
        receipt = output = None
        roll = self.rng.random()
        if roll < 0.3:
            item = self.items.item(("agent_message",) if self.chance(0.97) else None)
            item["id"] = item_id if self.chance(0.97) else self.pick(ITEM_IDS)
            receipt = self.payload("protocol_event", item)
        elif roll < 0.55 and self.schema == 3:
            item = self.items.item(OUTPUT_TYPES + OTHER_OUTPUTS if self.chance(0.97) else None)
            item["id"] = item_id if self.chance(0.97) else self.pick(ITEM_IDS)
            output = self.payload("protocol_event", item)
            if self.chance(0.05):  # both payloads (0.171 reads the tool output's)
                receipt = self.payload("protocol_event", self.items.item(("agent_message",)))
        self.accept_event(item_id, thread, envelope_turn, receipt, output)

    # --- code cells, compactions, agents ------------------------------------------------------

    def code_cell(self) -> None:
        where = self.context()
        if where is None:
            return
        thread, turn = where
        cells = self.cells.setdefault(thread, [])
        fresh = [c for c in CELLS if c not in cells]
        if fresh and (not cells or self.chance(0.5)):
            cell = self.pick(fresh)
            free = [c for c in CALL_IDS if c not in self.cell_calls]
            call = self.pick(free) if free else self.pick(CALL_IDS)
            if self.chance(0.03):
                call = self.pick(CALL_IDS)  # code cell ids are global: a second cell collides
            self.cell_calls.add(call)
            self.b.event(ev.CodeCellStarted(cell, call, "text(1)"), thread=thread, turn=turn)
            cells.append(cell)
            return
        cell = self.pick(cells)
        status = self.pick(ev.CODE_CELL_RUNTIME_STATUSES)
        ref = self.payload("tool_result", {"response": {"cell_id": cell}})
        if self.chance(0.5):
            event: ev.EventPayload = ev.CodeCellInitialResponse(cell, status, ref)
        else:
            event = ev.CodeCellEnded(cell, status, ref)
        self.b.event(event, thread=thread, turn=turn)

    def compaction(self) -> None:
        where = self.context()
        if where is None:
            return
        thread, turn = where
        roll = self.rng.random()
        if roll < 0.3:
            self.compactions += 1
            compaction = f"cmp-{self.compactions}"
            request = f"compaction_request:{self.compactions}"
            ref = self.payload("compaction_request", {"input": self.history[thread]})
            self.b.event(
                ev.CompactionRequestStarted(
                    compaction, request, thread, turn, "gpt-test", "test-provider", ref
                ),
                thread=thread,
                turn=turn,
            )
            self.requests.append((request, compaction))
            self.requested.append(compaction)
            return
        if roll < 0.5 and self.requests:
            request, compaction = self.requests.pop(self.rng.randrange(len(self.requests)))
            done: ev.EventPayload
            if self.chance(0.7):
                ref = self.payload(
                    "compaction_response", {"output": [self.items.item(("compaction",))]}
                )
                done = ev.CompactionRequestCompleted(compaction, request, ref)
            else:
                done = ev.CompactionRequestFailed(compaction, request, "boom")
            self.b.event(done, thread=thread, turn=turn)
            return
        if self.requested and self.chance(0.7):
            compaction = self.requested.pop(self.rng.randrange(len(self.requested)))
        else:
            self.compactions += 1
            compaction = f"cmp-{self.compactions}" if not self.chance(0.03) else "cmp-1"
        replacement = [self.items.item() for _ in range(self.rng.randint(0, 2))]
        if self.chance(0.5):
            replacement.append(self.items.item(("compaction",)))
        checkpoint = {
            "input_history": self.passed_through(self.edited(self.history[thread]), turn),
            "replacement_history": self.passed_through(replacement, turn),
        }
        ref = self.payload("compaction_checkpoint", checkpoint)
        self.b.event(ev.CompactionInstalled(compaction, ref), thread=thread, turn=turn)
        self.history[thread] = list(replacement)

    def agent_result(self) -> None:
        children = [t for t in CHILDREN if self.turns.get(t)]
        if not children:
            return
        child = self.pick(children)
        turn = self.pick(self.turns[child])
        # one message per child turn (mostly): a second result with another message for the
        # same edge is refused as conflicting delivery data
        message = TEXTS[self.turns[child].index(turn) % 3] if self.chance(0.9) else "other"
        edge = f"edge:agent_result:{child}:{turn}:{ROOT}"
        ref = self.payload("agent_result", {"message": message}) if self.chance(0.7) else None
        event = ev.AgentResultObserved(edge, child, turn, ROOT, message, ref)
        self.b.event(event, thread=child, turn=turn)

    def thread_end(self) -> None:
        thread = self.pick(list(self.turns))
        if thread in self.ended and self.chance(0.5):
            self.b.event(ev.ThreadResumed(thread))
            self.ended.discard(thread)
            return
        self.b.event(ev.ThreadEnded(thread, self.pick(["completed", "failed", "aborted"])))
        self.ended.add(thread)

    def protocol_event(self) -> None:
        ref = self.payload("protocol_event", {"type": "warning", "message": "w"})
        self.b.event(ev.ProtocolEventObserved("warning", ref))

    def finish(self) -> None:
        while self.pending and self.chance(0.7):
            self.finish_inference()
        if self.chance(0.8):
            for thread in self.turns:
                if thread != ROOT and thread not in self.ended and self.chance(0.5):
                    self.b.event(ev.ThreadEnded(thread, "completed"))
            self.b.event(ev.RolloutEnded(self.pick(["completed", "failed"])))
        if self.chance(0.8):
            self.b.event(ev.RecordingCompleted())
