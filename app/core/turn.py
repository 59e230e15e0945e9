"""The neutral request (`Turn`) that every front door makes and the engine runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agent import AgentConfig
from .credentials import Credential
from .events import Usage
from .hosted import Hosted
from .messages import Message, ToolSpec

# What an idle conversation's process is worth keeping, least first (engine/processes/pool.py): a new stateless
# conversation, a stateless one that continued before, a named session, a turn held for results.
ONE_OFF, CONTINUED, NAMED, HELD = 0, 1, 2, 3


@dataclass
class Turn:
    """One request to Claude: the whole conversation so far, ending with the new user message."""

    model: str | None  # what the CLI gets as --model ("sonnet", a claude- id); None: its default
    messages: list[Message]  # alternating, oldest first; the last one is the user's new message
    system: str | None = None
    max_output_tokens: int | None = None
    tenant: str = "default"
    request_id: str = ""
    # Turns of one conversation share a Claude process between them; None: a one-off.
    conversation_id: str | None = None
    effort: str | None = None  # Claude's effort level: low, medium, high, xhigh, max
    stop: list[str] = field(default_factory=list)  # end the answer at the first of these
    output_schema: dict[str, Any] | None = None  # structured output: the answer is JSON of this schema
    user: str | None = None  # the client's end-user id, kept with the session
    metadata: dict[str, str] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()  # the client's functions
    thinking: dict[str, Any] | None = None  # Claude's thinking: enabled (budget), adaptive or disabled
    worth: int = 0  # how likely the conversation goes on: ONE_OFF, CONTINUED or NAMED
    # The answer must call this function ('' for any; None: Claude may answer without calling).
    forced_tool: str | None = None
    # Parameters found during the turn not to have been applied as asked (reported in a header).
    unapplied: list[str] = field(default_factory=list)
    # Legacy function calling: the id the client will send this answer's function call back under.
    legacy_call_id: str | None = None
    # extend_hash("", history), when the caller knows it already (sessions keep the chain).
    history_hash: str | None = None
    # The caller's own Claude credential: the turn runs with it alone (credentials.py); None: the
    # operator's. Never stored: not with the session, not in a transcript, not in a log line.
    credential: Credential | None = None
    # Agent mode: Claude Code's own tools (agent.py; the options it becomes: engine/agent/setup.py), in `workspace`
    # (None: a folder of the turn's own).
    agent: AgentConfig | None = None
    workspace: Path | None = None
    # The hosted tools (web search, ...) Claude Code serves for this turn (core/hosted.py).
    hosted: Hosted = field(default_factory=Hosted)
    # The most Claude processes the tenant may hold (its key's max_processes); None: no limit.
    process_limit: int | None = None
    # Told what Claude had used when the turn ends without a Finish (cut short, failed): the
    # tokens streamed so far (output counted from the deltas) and the model that streamed them,
    # which the upstream bills all the same (the usage ledger counts and prices them).
    on_partial_usage: Callable[[Usage, str | None], None] | None = field(default=None, compare=False, repr=False)

    @property
    def history(self) -> list[Message]:
        return self.messages[:-1]

    @property
    def prompt(self) -> Message:
        return self.messages[-1]


def ask_for_call(forced: str) -> str:
    """What Claude is told when it must call a function (`forced`: its name, or '' for any)."""
    return f"You must call the function `{forced}` now." if forced else "You must call one of the functions now."
