"""The OpenTelemetry GenAI semantic conventions' names and well-known values the OTLP export
sends, in one place (so docs/otlp.md's tables can be checked against them).

From the ``semantic-conventions-genai`` registry (``model/gen-ai/registry.yaml``; status
"Development", so names may move).
"""

from __future__ import annotations

from typing import Final

OPERATION: Final = "gen_ai.operation.name"
PROVIDER: Final = "gen_ai.provider.name"
CONVERSATION: Final = "gen_ai.conversation.id"
WORKFLOW: Final = "gen_ai.workflow.name"
AGENT_ID: Final = "gen_ai.agent.id"
AGENT_NAME: Final = "gen_ai.agent.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
RESPONSE_ID: Final = "gen_ai.response.id"
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"
TOOL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_RESULT: Final = "gen_ai.tool.call.result"
ERROR_TYPE: Final = "error.type"
#: OpenInference's span kind (Arize Phoenix's): the GenAI conventions have no operation for a
#: guardrail, and Phoenix derives no kind for a span without one; ``GUARDRAIL`` is its own.
OPENINFERENCE_KIND: Final = "openinference.span.kind"
#: OpenInference's metadata (a JSON object as text), which Phoenix shows on a span and filters
#: by (``metadata['episode'] == 17``): the rollout's own (``Rollout.add_metadata``).
OPENINFERENCE_METADATA: Final = "metadata"
#: Our own namespace for what the conventions have no name for.
OURS: Final = "rollout_trace"

#: The registry's well-known ``gen_ai.provider.name`` values. Receivers key on these exact
#: strings (a provider they know gets its own icon, pricing, parsing), and the conventions ask
#: for them whenever one applies.
WELL_KNOWN_PROVIDERS: Final = frozenset(
    {
        "openai",
        "gcp.gen_ai",
        "gcp.vertex_ai",
        "gcp.gemini",
        "anthropic",
        "cohere",
        "azure.ai.inference",
        "azure.ai.openai",
        "ibm.watsonx.ai",
        "aws.bedrock",
        "perplexity",
        "x_ai",
        "deepseek",
        "groq",
        "mistral_ai",
    }
)
_BY_FOLDED: Final = {name.casefold(): name for name in WELL_KNOWN_PROVIDERS}


def provider_value(recorded: str) -> str:
    """The ``gen_ai.provider.name`` for a state's ``provider_name``: a well-known provider in
    other letters is spelled as the conventions spell it (Codex names its built-in provider
    ``OpenAI``, the registry ``openai``); any other name is sent as recorded."""
    return _BY_FOLDED.get(recorded.casefold(), recorded)
