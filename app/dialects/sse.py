"""Server-sent events as the front doors write them, and the one failure every stream shares.

Most frames of a streamed answer are one kind of frame over and over, a text delta, which differs
from the one before only in its text (and, on the Responses door, its sequence number). Such a
frame is rendered once as a template, and each delta then encodes only its own values: about a
microsecond instead of ten with a pydantic dump and a whole payload to encode (bench/framing.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..core.errors import GatewayError

# json.dumps(payload, ensure_ascii=False, separators=(",", ":")), without building an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def sse(payload: dict[str, Any]) -> str:
    """One frame, `data:` alone: as OpenAI Chat Completions sends it."""
    return f"data: {_encode(payload)}\n\n"


def sse_event(payload: dict[str, Any]) -> str:
    """One frame with an `event:` line that repeats the payload's type: as Anthropic Messages and
    OpenAI Responses send it."""
    return f"event: {payload['type']}\n{sse(payload)}"


_HOLE = f"\x00{uuid.uuid4().hex}:"  # no payload holds it by chance, nor a client by design


def hole(n: int = 0) -> str:
    """The place of a template's n-th value in the payload it is rendered from."""
    return f"{_HOLE}{n}\x00"


class FrameTemplate:
    """A frame rendered once with holes in its payload (`hole(0)`, `hole(1)`, ...); `fill` gives,
    byte for byte, the frame of the payload with the values in their places."""

    def __init__(self, frame: str, holes: int = 1) -> None:
        self._parts = [frame]
        for n in range(holes):
            head, *rest = self._parts[-1].split(_encode(hole(n)))
            if len(rest) != 1:
                raise ValueError(f"hole {n} is not in the frame exactly once")
            self._parts[-1:] = [head, rest[0]]

    def fill(self, *values: str | int) -> str:
        parts = self._parts
        if len(values) == 1:
            return f"{parts[0]}{_encode(values[0])}{parts[1]}"
        filled = [parts[0]]
        for value, after in zip(values, parts[1:], strict=True):
            filled += (str(value) if type(value) is int else _encode(value), after)
        return "".join(filled)


def stream_interrupted() -> GatewayError:
    """What a stream ends with when Claude Code restarts an answer that broke off (a Restart
    event): a whole response starts over, but a stream cannot take back what it already sent."""
    return GatewayError(
        502,
        "Claude's answer broke off mid-stream and Claude Code started it again; the text already "
        "streamed is void. Retry the request.",
        "api_error",
        "upstream_stream_interrupted",
    )
