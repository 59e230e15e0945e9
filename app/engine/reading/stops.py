"""Stop strings, which Claude Code cannot pass to Claude: the gateway cuts the answer itself.

Text is held back just long enough to see a stop string that spans two deltas, so a stream
never shows any part of it.
"""

from __future__ import annotations

from ...core.events import Event, Finish, Restart, TextDelta, ToolResult, Usage
from ...core.messages import answer_message


class StopScanner:
    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.hit: str | None = None
        self._pending = ""
        self._sent: list[str] = []
        self._settled = 0  # the texts sent that a Restart leaves (those before a tool's result)

    def filter(self, event: Event, usage: Usage, model: str | None) -> list[Event]:
        """What to pass on for `event`; ends with a Finish once a stop string shows up."""
        if isinstance(event, TextDelta):
            return self._text(event.text, usage, model)
        if isinstance(event, Restart):
            self._pending = ""
            del self._sent[self._settled :]
            return [event]
        # Anything else (a Finish, thinking, a function call, a tool Claude Code ran) comes after
        # the text held back: it goes out first, so the client sees them in the order Claude wrote.
        rest, self._pending = self._pending, ""
        self._sent.append(rest)
        if isinstance(event, ToolResult):
            self._settled = len(self._sent)
        return [TextDelta(rest), event] if rest else [event]

    def _text(self, text: str, usage: Usage, model: str | None) -> list[Event]:
        self._pending += text
        # The stop string that is complete first wins (the earliest end; then the longest), whatever
        # the chunks: a stream sees a string only once its last character has arrived.
        found = [(at + len(s), -len(s), at, s) for s in self.stops if (at := self._pending.find(s)) >= 0]
        if found:
            _, _, at, self.hit = min(found)
            safe, self._pending = self._pending[:at], ""
            self._sent.append(safe)
            message = answer_message("".join(self._sent))
            finish = Finish("stop_sequence", usage, model, message, stop_sequence=self.hit)
            return [TextDelta(safe), finish] if safe else [finish]
        cut = max(0, len(self._pending) - self.hold)
        safe, self._pending = self._pending[:cut], self._pending[cut:]
        self._sent.append(safe)
        return [TextDelta(safe)] if safe else []
