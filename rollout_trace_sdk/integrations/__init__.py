"""Integrations: record the calls of client libraries people already use, with one line.

Each integration lives in its own module and imports its library only when used:

* :mod:`rollout_trace_sdk.integrations.openai` — ``instrument(AsyncOpenAI(...))`` records
  ``responses.create`` and ``chat.completions.create`` made inside an open turn.
* :mod:`rollout_trace_sdk.integrations.agents` — ``RolloutTraceProcessor``, an OpenAI Agents
  SDK tracing processor: each SDK trace becomes its own bundle (it needs no open turn).

The OpenAI integration records into the *current* turn: the one whose ``async with turn:`` block
the call runs in (see :mod:`rollout_trace_sdk.record.current`). Outside a turn, calls go
through untouched.
"""

from ..record.current import current_turn, use_turn

__all__ = ["current_turn", "use_turn"]
