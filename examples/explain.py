"""Ask a reduced trace what happened, from Python: `python examples/explain.py BUNDLE [--failed]`.

For each tool call: the agent that ran it, how it ended and why it failed (`error_texts`),
the model request that asked for it and what was new to the model in that request (the
user's last message, the tool outputs since the model last spoke), and what came back. Then each message
between agents: who spawned whom with which task, and the answers sent back; and the tokens
each agent's model requests used. `rollout-trace show` prints the whole transcript; this
walks the graph behind it (`reduce_bundle` returns the `RolloutTrace` of docs/reducing.md,
"What comes out"), the way your own analysis would.
"""

import sys

from rollout_trace_sdk import ReduceError, RolloutTrace, error_texts, reduce_bundle
from rollout_trace_sdk.model.state import (
    CodePart,
    ConversationItem,
    EncodedPart,
    PayloadRefPart,
    SummaryPart,
    TextPart,
    TraceAnchor,
)

WIDTH = 100


def short(text: str, width: int = WIDTH) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def item_text(trace: RolloutTrace, item_id: str) -> str:
    """What an item says: its text, summary and code parts, and the text delivered to an
    agent (a message between agents carries it as ``encrypted_content``: a spawn's task);
    images and other payloads are named by label, reasoning's encrypted blob by kind."""
    item = trace.conversation_items[item_id]
    words = []
    for part in item.body:
        if isinstance(part, TextPart | SummaryPart):
            words.append(part.text)
        elif isinstance(part, CodePart):
            words.append(part.source)
        elif isinstance(part, EncodedPart) and item.agent_message is not None:
            words.append(part.value)
        elif isinstance(part, PayloadRefPart):
            words.append(f"[{part.label}]")
        else:
            words.append(f"[{part.TYPE}]")
    return f"{item.kind}: " + " ".join(words)


def what_it_saw(trace: RolloutTrace, item_ids: list[str], most: int = 4) -> list[str]:
    """What the model was answering: the request's last user message, and what came after
    the model's own last item in it (the outputs of the tools it asked for, a message from
    another agent); the last ``most`` of them."""
    items = [trace.conversation_items[i] for i in item_ids]
    said = [item.role in ("user", "tool") or item.agent_message is not None for item in items]
    own = [n for n, item in enumerate(items) if item.role == "assistant" and not said[n]]
    since = own[-1] + 1 if own else 0
    users = [n for n, item in enumerate(items[:since]) if item.role == "user"]
    new = [n for n in range(since, len(items)) if said[n]]
    earlier = [] if any(items[n].role == "user" for n in new) else users[-1:]
    return [seen_as(trace, items[n]) for n in (earlier + new)[-most:]]


def seen_as(trace: RolloutTrace, item: ConversationItem) -> str:
    """An item named by who said it (``user: ...``, ``from /root: ...``), else by its kind."""
    if item.agent_message is not None:
        return (
            f"from {item.agent_message.author}: "
            + payload_of(trace, item.item_id).partition(": ")[2]
        )
    text = item_text(trace, item.item_id)
    return item.role + text[len(item.kind) :] if item.kind == "message" else text


def agent_of(trace: RolloutTrace, thread_id: str) -> str:
    thread = trace.threads[thread_id]
    return thread.agent_path + (f" ({thread.nickname})" if thread.nickname else "")


def explain_tool_calls(trace: RolloutTrace, why: dict[str, str], *, failed_only: bool) -> None:
    # which model request asked for each call: the inverse of tool_call_ids_started_by_response
    asked_by = {
        call_id: inference
        for inference in trace.inference_calls.values()
        for call_id in inference.tool_call_ids_started_by_response
    }
    for call in trace.tool_calls.values():
        window = call.execution
        if failed_only and window.status == "completed":
            continue
        # named as the export's tool_calls.tool_name: an MCP tool as server/tool
        mcp = "/".join(n for n in (call.kind.server, call.kind.tool) if n is not None)
        name = call.kind.name or mcp or call.kind.type
        ended = window.ended_at_unix_ms
        took = "" if ended is None else f", {ended - window.started_at_unix_ms} ms"
        print(f"{call.tool_call_id}  {name}  {window.status}{took}")
        print(f"  agent    {agent_of(trace, call.thread_id)}")
        if call.tool_call_id in why:  # the state keeps no error text: error_texts reads it
            print(f"  why      {short(why[call.tool_call_id], WIDTH - 11)}")
        inference = asked_by.get(call.tool_call_id)
        if inference is not None:
            print(f"  asked by {inference.inference_call_id} ({inference.model})")
            for n, seen in enumerate(what_it_saw(trace, inference.request_item_ids)):
                print(f"  {'it saw' if n == 0 else '':<8} {short(seen, WIDTH - 11)}")
        elif call.requester_code_cell_id is not None:
            print(f"  asked by {call.requester_code_cell_id}")
        # the answer in the call's own thread (another agent handed the history holds a copy)
        answers = call.model_visible_output_item_ids
        own = [i for i in answers if trace.conversation_items[i].thread_id == call.thread_id]
        for item_id in own or answers:
            print(f"  answer   {short(item_text(trace, item_id), WIDTH - 11)}")


def agent_at(trace: RolloutTrace, anchor: TraceAnchor) -> str:
    """The agent at one end of an edge: the thread of the tool call or item it names."""
    if anchor.type == "thread":
        thread_id = anchor.id
    elif anchor.type == "tool_call":
        thread_id = trace.tool_calls[anchor.id].thread_id
    else:
        thread_id = trace.conversation_items[anchor.id].thread_id
    return agent_of(trace, thread_id)


def explain_agents(trace: RolloutTrace) -> None:
    for edge in trace.interaction_edges.values():
        source, target = agent_at(trace, edge.source), agent_at(trace, edge.target)
        print(f"{edge.kind}  {source} -> {target}")
        for item_id in edge.carried_item_ids:
            print(f"  carried  {short(payload_of(trace, item_id), WIDTH - 11)}")


def payload_of(trace: RolloutTrace, item_id: str) -> str:
    """What a message between agents says, without its envelope (``Message Type``, ``Task
    name``, ``Sender``: the edge names both agents): the task, the answer."""
    text = " ".join(item_text(trace, item_id).split())
    if trace.conversation_items[item_id].agent_message is None:
        return text
    _, found, payload = text.partition(" Payload: ")
    return f"{trace.conversation_items[item_id].kind}: {payload}" if found else text


def explain_tokens(trace: RolloutTrace) -> None:
    """Each agent's model requests and the tokens they used (a request without usage, such
    as one that failed, counts as a request)."""
    for thread_id in trace.threads:
        calls = [c for c in trace.inference_calls.values() if c.thread_id == thread_id]
        used_in = sum(c.usage.input_tokens for c in calls if c.usage is not None)
        used_out = sum(c.usage.output_tokens for c in calls if c.usage is not None)
        print(
            f"tokens  {agent_of(trace, thread_id)}: {len(calls)} request(s), "
            f"{used_in:,} in, {used_out:,} out"
        )


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--failed"]
    if len(args) != 1:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    try:
        trace = reduce_bundle(args[0])
    except ReduceError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 1
    agents = len(trace.threads)
    print(f"{trace.status}: {agents} agent(s), {len(trace.inference_calls)} model request(s)\n")
    why = dict(error_texts(args[0], trace).tool_calls)
    explain_tool_calls(trace, why, failed_only="--failed" in argv)
    print()
    explain_agents(trace)
    print()
    explain_tokens(trace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
