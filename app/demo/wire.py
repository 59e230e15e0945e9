"""Anthropic Messages API answers on the wire, as a fake upstream writes them: one `Reply` as
a JSON message or as SSE (`message_start`, `content_block_*`, `message_delta`, `message_stop`),
and what a request body holds (its last user text, its tool results).

The one home of this format for the demo upstream (app/demo/upstream.py) and the tests' scriptable
fake (tests/fakes/upstream.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..core.events import Usage
from ..dialects.anthropic_messages.outbound import usage_object


@dataclass
class Reply:
    """One scripted answer to one model call."""

    text: str = ""
    thinking: str = ""
    # {"name", "input"[, "id"]}; "partial_json" instead of "input" streams that text as the arguments
    # (JSON that max_tokens cut off, with stop_reason "max_tokens")
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # default: "tool_use" if tool_uses else "end_turn"
    chunk_size: int = 4  # characters per text delta
    delay: float = 0.0  # seconds between deltas
    status: int = 200  # != 200: an error reply
    error_type: str = "api_error"
    error_message: str = "fake upstream error"
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    fail_after: int | None = None  # send an SSE `error` event after this many text deltas
    # Server tool blocks (server_tool_use, web_search_tool_result, ...), whole, before the text;
    # the text's citations; and usage.server_tool_use ({"web_search_requests": 1}).
    server_blocks: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    server_tool_use: dict[str, int] = field(default_factory=dict)


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message, without the CLI's system reminders."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return str(content)
        texts = [
            b.get("text", "")
            for b in content
            if b.get("type") == "text" and not b.get("text", "").startswith("<system-reminder>")
        ]
        if texts:
            return str(texts[-1])
    return ""


def tool_results(body: dict[str, Any]) -> list[str]:
    """The text of every tool_result in the conversation, in order."""
    found = []
    for message in body.get("messages", []):
        for block in message.get("content") if isinstance(message.get("content"), list) else []:
            if block.get("type") == "tool_result":
                content = block.get("content")
                if isinstance(content, list):
                    content = " ".join(part.get("text", "[image]") for part in content if isinstance(part, dict))
                found.append(str(content))
    return found


def text_of(message: dict[str, Any]) -> str:
    """A message's own text (not tool results, not the CLI's system reminders)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(
        b.get("text", "")
        for b in content or []
        if b.get("type") == "text" and not b.get("text", "").startswith("<system-reminder>")
    )


def uses_tools(body: dict[str, Any]) -> bool:
    return any(
        isinstance(message.get("content"), list) and block.get("type") in ("tool_use", "tool_result")
        for message in body.get("messages", [])
        for block in message["content"]
    )


def message_json(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig"})
    content.extend(reply.server_blocks)
    if reply.text:
        cited = {"citations": reply.citations} if reply.citations else {}
        content.append({"type": "text", "text": reply.text} | cited)
    for tool in reply.tool_uses:
        content.append(
            {
                "type": "tool_use",
                "id": tool.get("id") or _tool_id(),
                "name": tool["name"],
                "input": tool.get("input", {}),
            }
        )
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-fake"),
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage(reply),
    }


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")


def _usage(reply: Reply) -> dict[str, Any]:
    counts = (reply.input_tokens, reply.output_tokens, reply.cache_read_input_tokens, reply.cache_creation_input_tokens)
    usage: dict[str, Any] = dict(usage_object(Usage(*counts)))
    if reply.server_tool_use:
        usage["server_tool_use"] = reply.server_tool_use
    return usage


def _tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(size, 1))] or [""]


async def sse(body: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
    start_usage = _usage(reply) | {"output_tokens": 1}
    yield _event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-fake"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
    )
    index = 0

    async def pause() -> None:
        if reply.delay:
            await asyncio.sleep(reply.delay)

    if reply.thinking:
        yield _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        for piece in _chunks(reply.thinking, reply.chunk_size):
            await pause()
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}},
            )
        yield _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "c2ln"}},
        )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    for block in reply.server_blocks:
        opening = block | {"input": {}} if block.get("type") == "server_tool_use" else block
        yield _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        if block.get("type") == "server_tool_use":
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}
            yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    if reply.text or not reply.tool_uses:
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        for citation in reply.citations:
            cited = {"type": "citations_delta", "citation": citation}
            yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": cited})
        for n, piece in enumerate(_chunks(reply.text, reply.chunk_size)):
            if reply.fail_after is not None and n == reply.fail_after:
                yield _event(
                    "error", {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
                )
                return
            await pause()
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    for tool in reply.tool_uses:
        yield _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": tool.get("id") or _tool_id(),
                    "name": tool["name"],
                    "input": {},
                },
            },
        )
        for piece in _chunks(tool["partial_json"] if "partial_json" in tool else json.dumps(tool["input"]), 8):
            await pause()
            yield _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens}
            | ({"server_tool_use": reply.server_tool_use} if reply.server_tool_use else {}),
        },
    )
    yield _event("message_stop", {"type": "message_stop"})
