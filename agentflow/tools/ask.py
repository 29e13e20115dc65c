"""`ask_agent {agent, question}`: a request to another agent, answered by a sub-call.

The tool only checks its input and hands the question to an `Asker` (the engine), which
runs the sub-call with the asked agent's system prompt, charges it to the asking task,
and enforces the depth limit and the timeout. Claude Code's `Task` tool maps here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from agentflow.tools.base import (
    ToolCall,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSpec,
    string_field,
)

# Past this many agents the names are listed in the description only, not as an enum:
# a schema of hundreds of names costs tokens on every turn.
MAX_ENUM_AGENTS = 64

Asker = Callable[[ToolContext, str, str], Awaitable[str]]


def ask_spec(agents: Sequence[str]) -> ToolSpec:
    agent_field: dict[str, object] = {"type": "string", "description": "The agent's name."}
    if 0 < len(agents) <= MAX_ENUM_AGENTS:
        agent_field["enum"] = list(agents)
    names = ", ".join(agents[:MAX_ENUM_AGENTS]) or "(none)"
    more = f" and {len(agents) - MAX_ENUM_AGENTS} more" if len(agents) > MAX_ENUM_AGENTS else ""
    return ToolSpec(
        name="ask_agent",
        description=(
            "Ask another agent a question and get its answer. The agent sees only your "
            f"question, so include what it needs. Agents: {names}{more}."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "agent": agent_field,
                "question": {"type": "string", "description": "The complete question."},
            },
            "required": ["agent", "question"],
        },
    )


class AskAgentTool:
    def __init__(self, agents: Sequence[str], asker: Asker) -> None:
        self.spec = ask_spec(agents)
        self._asker = asker

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        try:
            agent, question = string_field(call, "agent"), string_field(call, "question")
            answer = await self._asker(context, agent.strip(), question)
        except ToolError as exc:
            return ToolResult(call.id, str(exc), is_error=True)
        return ToolResult(call.id, answer)
