"""The neutral event stream (`Event`) a turn yields, from the engine to every front door."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .hosted import Source
from .messages import Message

FinishReason = Literal["stop", "length", "tool_use", "stop_sequence", "content_filter"]


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
    # The hosted tool of the request it serves (core/hosted.py: "web_search", ...); None: activity.
    hosted: str | None = None


@dataclass
class ToolResult:
    """What one of Claude Code's own tools gave back (`id` names its ToolUse)."""

    id: str
    name: str
    output: str  # the result's text, cut to a few KiB
    is_error: bool = False
    server: str | None = None
    parent: str | None = None
    hosted: str | None = None  # as its ToolUse's
    sources: tuple[Source, ...] = ()  # a hosted search's results, a fetch's page


@dataclass
class ToolList:
    """The tools a remote MCP server (core/hosted.py) offers for the turn, as Claude Code listed them
    (the Responses API's `mcp_list_tools`); `error` if it could not list them. Before any output."""

    server: str  # the request's label for it
    tools: list[dict[str, Any]]  # MCP tool objects: name, description, inputSchema, annotations
    error: str | None = None


# A result's text is cut to this many characters: the client sees what a tool did, not all it
# read (a Read of a large file would otherwise go out whole, to every door, in every stream).
MAX_OUTPUT_CHARS = 4096
_CUT = re.compile(r"… \(([\d,]+) characters\)\Z")


def cut(text: str) -> str:
    """The text, cut to MAX_OUTPUT_CHARS with a marker that says how long it was."""
    return text if len(text) <= MAX_OUTPUT_CHARS else f"{text[:MAX_OUTPUT_CHARS]}… ({len(text):,} characters)"


def full_length(output: str) -> int | None:
    """How long an output that `cut` shortened was; None for an output given whole."""
    found = _CUT.search(output)
    return int(found.group(1).replace(",", "")) if found and len(output) > MAX_OUTPUT_CHARS else None


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


Event = TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | ToolUse | ToolResult | ToolList | Restart | Finish
