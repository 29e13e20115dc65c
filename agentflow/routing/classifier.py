"""`routing: {classifier: MODEL}`: ask a cheap model which tier a `model: auto` task needs.

One short structured call per task, made when the task starts: it goes through the same
response cache (a re-run asks nothing), is charged to the task and reserved against the
budget like any attempt, and shows in the tables as an attempt of purpose "classify".
When the call fails, the offline analysis's tier stands.
"""

from __future__ import annotations

from agentflow.providers.base import ModelRequest

CLASSIFY_MAX_TOKENS = 64
CLASSIFY_RETRIES = 1
TIER_SCHEMA = {
    "type": "object",
    "required": ["tier"],
    "properties": {"tier": {"type": "string", "enum": ["simple", "standard", "complex"]}},
    "additionalProperties": False,
}
SYSTEM = (
    "You route tasks to language models. Classify how demanding the task below is.\n"
    "simple: extraction, classification, formatting, conversion, short summaries, lookups.\n"
    "standard: ordinary writing, code, reviews and analysis.\n"
    "complex: design and architecture, proofs, security audits, planning under constraints, "
    "hard debugging and anything needing long careful reasoning.\n"
    'Answer with JSON only: {"tier": "simple" | "standard" | "complex"}.'
)


def classifier_request(
    task_id: str, prompt: str, agent_description: str, model: str, timeout: float
) -> ModelRequest:
    about = f"\nThe agent doing it: {agent_description}" if agent_description else ""
    return ModelRequest(
        task_id=task_id,
        model=model,
        system=SYSTEM,
        prompt=f"The task:\n{prompt}{about}",
        max_tokens=CLASSIFY_MAX_TOKENS,
        timeout=timeout,
        output_schema=TIER_SCHEMA,
    )
