"""The neutral request (`Turn`) and event stream (`Event`) shared by every front door.

Content is kept as Anthropic content blocks (`{"type": "text", "text": ...}`,
`{"type": "image", "source": {...}}`, `tool_use`, `tool_result`): that is what Claude Code takes,
so translators convert to it once and the engine passes it through.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..engine.agent.config import AgentConfig
from .credentials import Credential

Block = dict[str, Any]
Role = Literal["user", "assistant"]
FinishReason = Literal["stop", "length", "tool_use", "stop_sequence", "content_filter"]


@dataclass
class Message:
    role: Role
    content: list[Block]


def chain(messages: list[Message], start: str = "") -> list[str]:
    """h[i] = sha256(h[i-1] + message i): h[-1] names the whole conversation up to there, so a
    conversation's name grows by hashing only its new messages."""
    hashes, previous = [], start
    for message in messages:
        canonical = json.dumps({"role": message.role, "content": message.content}, sort_keys=True, ensure_ascii=False)
        previous = hashlib.sha256((previous + canonical).encode()).hexdigest()
        hashes.append(previous)
    return hashes


def extend_hash(start: str, messages: list[Message]) -> str:
    """The chain hash of a conversation named `start` ("" if empty) once `messages` join it."""
    return chain(messages, start)[-1] if messages else start


@dataclass(frozen=True)
class ToolSpec:
    """A function the client offers; Claude sees it as an in-process MCP tool."""

    name: str
    description: str
    schema: str  # JSON text of the parameters schema (hashable: part of a process's options)


def answer_message(text: str, tool_uses: list[Block] | None = None) -> Message:
    """An assistant turn as a client sends it back: its text (if any), then its tool calls."""
    blocks: list[Block] = [{"type": "text", "text": text}] if text.strip() else []
    return Message("assistant", blocks + list(tool_uses or []))


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
    # Agent mode: Claude Code's own tools (engine/agent/config.py), in `workspace` (None: a folder of the turn's own).
    agent: AgentConfig | None = None
    workspace: Path | None = None
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


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
        )

    def __sub__(self, other: Usage) -> Usage:
        """What is left of this usage once `other` is taken out of it (never below zero)."""
        return Usage(
            max(0, self.input_tokens - other.input_tokens),
            max(0, self.output_tokens - other.output_tokens),
            max(0, self.cache_read_input_tokens - other.cache_read_input_tokens),
            max(0, self.cache_creation_input_tokens - other.cache_creation_input_tokens),
        )

    @property
    def prompt_tokens(self) -> int:
        """All input the model read, cached or not (what OpenAI calls prompt tokens)."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass
class TextDelta:
    text: str


@dataclass
class ThinkingDelta:
    text: str


@dataclass
class ToolCallStart:
    """Claude began calling one of the client's functions (index counts calls in this answer)."""

    index: int
    id: str
    name: str


@dataclass
class ToolCallDelta:
    index: int
    arguments: str  # a piece of the JSON arguments, as Claude writes it


@dataclass
class ToolUse:
    """Agent mode: Claude Code ran one of its own tools, a built-in one (Bash, Read, ...) or an MCP
    server's. Reported to the client, never sent back by it: the gateway ran it."""

    id: str
    name: str  # as Claude Code names it: "Bash", or "mcp__<server>__<tool>"
    input: dict[str, Any]
    server: str | None = None  # the MCP server's name for an MCP tool; None: built into Claude Code
    parent: str | None = None  # the subagent call (Task) it ran inside, if any


@dataclass
class ToolResult:
    """What one of Claude Code's own tools gave back (`id` names its ToolUse)."""

    id: str
    name: str
    output: str  # the result's text, cut to a few KiB
    is_error: bool = False
    server: str | None = None
    parent: str | None = None


@dataclass
class Restart:
    """Claude Code dropped a model call that broke off mid-stream and made it again: the output
    since the turn began, or since the last ToolResult (only a finished call leads to one), is
    void. A whole response drops it; a stream that already sent some of it cannot take it back
    and must fail."""


@dataclass
class Finish:
    reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    model: str | None = None  # the model Claude reports having used
    message: Message = field(default_factory=lambda: Message("assistant", []))  # the answer, as remembered
    stop_sequence: str | None = None  # the stop string that ended the answer, if one did
    # USD, from Claude Code's own accounting: `total_cost_usd` is its running total for the process
    # (as the CLI reports it), `cost_usd` what this answer added to it (engine/turns/conversation.py works it out).
    total_cost_usd: float | None = None
    cost_usd: float = 0.0
    # Agent mode: the run ended at a limit of the request's claude_code ("max_turns" or
    # "max_budget_usd"); `reason` is then "length".
    limit: str | None = None
    claude_session: str | None = None  # the CLI's session id (to resume it after a restart)


Event = TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | ToolUse | ToolResult | Restart | Finish


@dataclass
class ModelInfo:
    id: str
    display_name: str
    created: int = 0


class Engine(Protocol):
    """All that touches Claude. Errors are raised as `GatewayError` from `stream`."""

    def stream(self, turn: Turn) -> AsyncGenerator[Event, None]: ...

    async def list_models(self) -> list[ModelInfo]: ...

    def resolve_model(self, name: str) -> str | None:
        """The model to run for a requested name (None: Claude Code's default); 404 if not served."""
        ...

    def known_models(self) -> set[str]:
        """The model names the CLI reported (not every `claude-` id resolve_model lets through):
        the values a metric's model label may take."""
        ...

    async def auth_status(self) -> dict[str, Any]: ...

    async def count_tokens(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        """Input tokens of an Anthropic Messages request, and "upstream" or "estimate"; asked with
        the caller's own credential if given, never then with the operator's."""
        ...

    def end_conversation(self, conversation_id: str) -> None:
        """Forget a conversation: close its process, remove its folder and transcripts."""
        ...

    def fork_conversation(
        self, source: str, target: str, workspace: Path | None = None, source_workspace: Path | None = None
    ) -> None:
        """Make conversation `target` a fork of `source`, in `workspace` for an agent session (its
        files already copied there); `source_workspace`: the source's, if it is an agent session."""
        ...

    def close_idle_processes(self) -> int: ...

    def stats(self, conversations: Collection[str] | None = None) -> dict[str, Any]:
        """Figures of the whole engine, or (given conversation ids) of those conversations only."""
        ...

    def ready(self) -> bool:
        """Whether Claude Code has been started and answered once (the readiness probe)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
