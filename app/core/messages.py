"""A conversation's messages as the gateway keeps them, neutral to every API.

Content is kept as Anthropic content blocks (`{"type": "text", "text": ...}`,
`{"type": "image", "source": {...}}`, `tool_use`, `tool_result`): that is what Claude Code takes,
so translators convert to it once and the engine passes it through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

Block = dict[str, Any]
Role = Literal["user", "assistant"]


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
    # Out of Claude's view until its tool search finds it (`defer_loading` with Anthropic's tool
    # search tool or OpenAI's tool_search); False: in view from the first step, as APIs show them.
    deferred: bool = False


def answer_message(text: str, tool_uses: list[Block] | None = None) -> Message:
    """An assistant turn as a client sends it back: its text (if any), then its tool calls."""
    blocks: list[Block] = [{"type": "text", "text": text}] if text.strip() else []
    return Message("assistant", blocks + list(tool_uses or []))


# Between the text an answer says before a tool ran and the text it goes on with after: the steps
# of one agent turn, which APIs with one content string (Chat Completions) would otherwise run
# together ("Let me look.Two files."). Content blocks and output items keep the steps apart anyway.
STEP_SEPARATOR = "\n\n"


class StepJoin:
    """Where an answer's text goes on after a tool ran: the one rule for the text a client gets as one
    string and the text the gateway remembers of the answer, so the two stay the same."""

    def __init__(self, said: bool = False) -> None:
        self.said = said  # some text was said
        self.pending = said  # a tool ran since the last text

    def tool_ran(self) -> None:
        self.pending = self.said

    def before(self, piece: str) -> str:
        """What goes before this piece of text: the separator if it is the first after a tool ran."""
        if not piece:
            return ""
        joined = STEP_SEPARATOR if self.pending else ""
        self.said, self.pending = True, False
        return joined


def left_out(joined: str | None, tool_ran: bool) -> str | None:
    """What joins an answer's next text to its text before, once one more part of it was left out
    (thinking, or a tool that `tool_ran` without the client): as the engine remembers it, the
    step separator if a tool ran between them (StepJoin)."""
    return STEP_SEPARATOR if tool_ran or joined == STEP_SEPARATOR else ""
