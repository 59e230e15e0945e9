"""Server-sent events as the front doors write them, and the one failure every stream shares."""

from __future__ import annotations

import json
from typing import Any

from ..errors import GatewayError


def sse(payload: dict[str, Any]) -> str:
    """One frame, `data:` alone: as OpenAI Chat Completions sends it."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def sse_event(payload: dict[str, Any]) -> str:
    """One frame with an `event:` line that repeats the payload's type: as Anthropic Messages and
    OpenAI Responses send it."""
    return f"event: {payload['type']}\n{sse(payload)}"


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
