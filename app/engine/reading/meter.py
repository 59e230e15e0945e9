"""What a turn's model calls used, counted as they stream: the figures a turn is charged.

Claude Code reports a turn's usage in its result. A turn can end without one (the client left, the
deadline passed, a stop string or max_tokens ended it early), and a budget's result reports zeros;
the upstream bills each model call all the same. So every call's usage is kept as it streams: its
input with its `message_start`, its output with its `message_delta`. A call under way has no output
count yet: its deltas are counted instead, at least one token each and one per four characters.
"""

from __future__ import annotations

from typing import Any

from ...core.events import Usage
from ...core.prices import estimate_tokens


def usage_from(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_read_input_tokens=int(raw.get("cache_read_input_tokens") or 0),
        cache_creation_input_tokens=int(raw.get("cache_creation_input_tokens") or 0),
    )


class StreamMeter:
    """The usage of one turn's model calls (module docstring), fed the stream's events."""

    def __init__(self) -> None:
        self.call = Usage()  # the current model call's
        self.streamed = Usage()  # every ended model call's (a budget's result reports none)
        self.reported = Usage()  # already given to the client by answers ending in tool calls
        self.call_open = False  # a model call began and has not told its stop reason
        # The current call's output as counted from its deltas (its own count comes only at its end).
        self._deltas = self._delta_chars = 0

    def begin(self, usage: dict[str, Any] | None) -> None:
        """A model call began (message_start), with its input usage."""
        self.call = usage_from(usage)
        self._deltas = self._delta_chars = 0
        self.call_open = True

    def end(self, usage: dict[str, Any]) -> None:
        """The model call told its stop reason (message_delta), with its output count."""
        self.call_open = False
        self.call.output_tokens = int(usage.get("output_tokens") or 0)
        self.streamed = self.streamed + self.call

    def count(self, delta: dict[str, Any]) -> None:
        if delta.get("type") not in ("text_delta", "thinking_delta", "input_json_delta"):
            return  # a thinking block's signature is no output token
        self._deltas += 1
        for name in ("text", "thinking", "partial_json"):
            self._delta_chars += len(delta.get(name) or "")

    def so_far(self) -> Usage:
        """The current model call's usage as streamed, its output at least what its deltas counted."""
        if self.call_open:
            counted = max(self._deltas, estimate_tokens(self._delta_chars))
            self.call.output_tokens = max(self.call.output_tokens, counted)
        return self.call

    def consumed(self) -> Usage:
        """The turn's ended model calls and the one under way, less what answers reported."""
        streamed = self.streamed + self.so_far() if self.call_open else self.streamed
        return streamed - self.reported
