"""The answer a turn's events make, folded once for every front door.

Claude answers in parts: thinking, text and function calls, in the order it wrote them, and in
agent mode the tools Claude Code ran itself, each call with its result. Each door renders these
parts in its own shape (a chat message, content blocks, Response output items), whole or as they
stream; the fold itself is the same everywhere, and so is its one subtlety: a Restart voids what
came before it since the turn began, or since the last result of a tool Claude Code ran (the model
calls before that result are over: only the one that broke off is made again).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..core.events import (
    Event,
    Finish,
    Restart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    ToolUse,
)
from ..core.messages import StepJoin


def random_id(prefix: str = "") -> str:
    """A fresh id in the form the APIs use: a prefix, then 24 hex digits."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


@dataclass
class Part:
    """One part of the answer: thinking, text, a function call, or a tool Claude Code ran."""

    kind: Literal["thinking", "text", "tool_call", "tool"]
    call_id: str = ""  # a function call's id
    name: str = ""  # a function call's function
    use: ToolUse | None = None  # a tool Claude Code ran: the call
    result: ToolResult | None = None  # and its result, once it came
    key: str = field(default_factory=random_id)  # names the part in the ids a door gives it
    joined: str = ""  # what goes before a text part in the answer's one string (StepJoin)
    # Pieces joined when read: adding each delta to a string copies all of it every time, which
    # grows with the square of the length (a 100,000-delta answer: seconds).
    _pieces: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The thinking or the text; a function call's JSON arguments as written so far."""
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    def add(self, piece: str) -> None:
        self._pieces.append(piece)


class Answer:
    """Events folded into parts, and the Finish. Blank deltas make no part: an empty text or
    thinking part is nothing a client could use."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.finish: Finish | None = None  # None until the turn finished
        self._calls: dict[int, Part] = {}  # a function call's index -> its part
        self._tools: dict[str, Part] = {}  # a tool Claude Code ran: its call's id -> its part
        self._settled = 0  # the parts a Restart leaves: those before the last tool result
        self._steps = StepJoin()

    @classmethod
    def of(cls, events: Iterable[Event]) -> Answer:
        answer = cls()
        for event in events:
            answer.add(event)
        return answer

    def add(self, event: Event) -> Part | None:
        """Fold in one event; the part it opened or added to, None if it changed no part."""
        if isinstance(event, ToolResult):
            self._steps.tool_ran()  # text after it is a new step (what the engine remembers too)
        if isinstance(event, Restart):
            del self.parts[self._settled :]
            self._calls.clear()
            self._tools = {part.call_id: part for part in self.parts if part.kind == "tool"}
            self._steps = StepJoin(said=any(part.kind == "text" for part in self.parts))
        elif isinstance(event, Finish):
            self.finish = event
        elif isinstance(event, (TextDelta, ThinkingDelta)) and event.text:
            kind: Literal["text", "thinking"] = "text" if isinstance(event, TextDelta) else "thinking"
            if not self.parts or self.parts[-1].kind != kind:
                self.parts.append(Part(kind))
            if kind == "text":
                self.parts[-1].joined += self._steps.before(event.text)
            self.parts[-1].add(event.text)
            return self.parts[-1]
        elif isinstance(event, ToolCallStart):
            self._calls[event.index] = Part("tool_call", call_id=event.id, name=event.name)
            self.parts.append(self._calls[event.index])
            return self.parts[-1]
        elif isinstance(event, ToolCallDelta) and event.arguments and event.index in self._calls:
            self._calls[event.index].add(event.arguments)
            return self._calls[event.index]
        elif isinstance(event, ToolUse):
            self._tools[event.id] = Part("tool", call_id=event.id, name=event.name, use=event)
            self.parts.append(self._tools[event.id])
            return self.parts[-1]
        elif isinstance(event, ToolResult) and event.id in self._tools:
            self._tools[event.id].result = event
            self._settled = len(self.parts)
            return self._tools[event.id]
        return None

    @property
    def text(self) -> str:
        """The text parts as one string: the steps apart, as Chat Completions shows them."""
        return "".join(part.joined + part.text for part in self.parts if part.kind == "text")

    @property
    def tool_calls(self) -> list[Part]:
        return [part for part in self.parts if part.kind == "tool_call"]

    @property
    def ending(self) -> Finish:
        """The Finish, or a plain stop for an answer that has none."""
        return self.finish or Finish("stop")
