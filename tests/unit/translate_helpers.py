"""What the translator tests share: a small PNG, the text block, and SSE frames read back."""

from __future__ import annotations

import base64
import json

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def text(s):
    return {"type": "text", "text": s}


def sse_payloads(frames: list[str]) -> list[dict]:
    """The JSON payloads of SSE frames (an `event:` line, if any, must name the payload's type)."""
    payloads = []
    for frame in frames:
        assert frame.endswith("\n\n")
        *name, data = frame.removesuffix("\n\n").split("\n")
        if data == "data: [DONE]":
            continue
        payload = json.loads(data.removeprefix("data: "))
        assert name in ([], [f"event: {payload.get('type')}"])
        payloads.append(payload)
    return payloads


def written(writer, items) -> list[dict]:
    """The payloads a door's stream writer writes for these items, from its opening to its closing."""
    frames = writer.opening()
    for item in items:
        frames += writer.frames(item)
    return sse_payloads(frames + writer.closing())
