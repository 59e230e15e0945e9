"""Events -> Anthropic Messages: a whole message, or its stream of events (content blocks opened,
added to and closed). Pure functions, no I/O.

Agent mode adds the tools Claude Code ran as MCP tool blocks (dialects/activity.py), and the limit a
run ended at as `claude_code_limit` (stop_reason "pause_turn"). Hosted web search and fetch are
server tool blocks, citations on the text and `usage.server_tool_use` (dialects/hosted.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...core import jsontext
from ...core.errors import GatewayError
from ...core.events import (
    Event,
    Finish,
    FinishReason,
    Restart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolResult,
    ToolUse,
    Usage,
)
from ...core.hosted import Source, is_web
from .. import activity, hosted
from ..answer import Answer, Part, random_id
from ..sse import FrameTemplate, hole, sse_event, stream_interrupted

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_use": "tool_use",
    "content_filter": "refusal",
}


def message_id() -> str:
    return random_id("msg_")


def message(events: Iterable[Event], msg_id: str, model: str) -> dict[str, Any]:
    """A whole (non-streamed) message from the turn's events."""
    answer = Answer.of(events)
    found = hosted.sources(answer.parts)
    content = [block for part in answer.parts for block in _content(part, found)]
    return _message(msg_id, model, content, answer.ending, hosted.counts(answer.parts) if found else None)


def _message(
    msg_id: str,
    model: str,
    content: list[dict[str, Any]],
    finish: Finish | None,
    server_tools: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The message: whole, or as message_start opens a stream (no content, no Finish yet)."""
    message = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(finish.usage if finish else Usage(), server_tools),
    }
    return {**message, **_ending(finish)} if finish else message


def _usage(usage: Usage, server_tools: dict[str, int] | None) -> dict[str, Any]:
    """The usage object, with the hosted calls made (`server_tool_use`) where there were any."""
    found: dict[str, Any] = dict(usage_object(usage))
    return {**found, "server_tool_use": server_tools} if server_tools else found


def _ending(finish: Finish) -> dict[str, Any]:
    """How the message ended. A run that reached a limit of the request's claude_code (agent mode)
    pauses, as a server tool's long turn does, and names the limit."""
    if finish.limit:
        return {"stop_reason": "pause_turn", "stop_sequence": None, "claude_code_limit": finish.limit}
    return {"stop_reason": STOP_REASONS[finish.reason], "stop_sequence": finish.stop_sequence}


def _content(part: Part, found: list[Source]) -> list[dict[str, Any]]:
    """A part's content blocks: one, or a tool Claude Code ran and its result (dialects/activity.py),
    or a hosted call and its result (dialects/hosted.py). Text cites the pages found."""
    if hosted.is_hosted(part):
        return hosted.anthropic_blocks(part)
    if part.kind == "tool":
        return activity.mcp_blocks(part)
    block = _block(part)
    cited = hosted.anthropic_citations(part.text, found) if part.kind == "text" and found else []
    return [{**block, "citations": cited}] if cited else [block]


def _block(part: Part, whole: bool = True) -> dict[str, Any]:
    """A part as a content block: whole, or empty as content_block_start opens it."""
    text = part.text if whole else ""
    if part.kind == "thinking":
        return {"type": "thinking", "thinking": text, "signature": ""}
    if part.kind == "text":
        return {"type": "text", "text": text}
    # Arguments that max_tokens cut off keep only what was complete.
    return {"type": "tool_use", "id": part.call_id, "name": part.name, "input": jsontext.partial_object(text)}


def usage_object(usage: Usage) -> dict[str, int]:
    """Usage as an Anthropic message (and the fake upstreams: demo/wire.py) writes it."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


def _delta(event: Event) -> tuple[str, str, str] | None:
    """A delta's content_block_delta: its type, the field that carries the piece, and the piece."""
    if isinstance(event, TextDelta):
        return "text_delta", "text", event.text
    if isinstance(event, ThinkingDelta):
        return "thinking_delta", "thinking", event.text
    if isinstance(event, ToolCallDelta):
        return "input_json_delta", "partial_json", event.arguments
    return None


class EventStream:
    """Anthropic's streaming events for the turn's events, as SSE frames: each part of the answer
    is a content block, opened, added to and closed. A block's deltas come from a template made
    once (dialects/sse.py)."""

    def __init__(self, msg_id: str, model: str) -> None:
        self.msg_id, self.model = msg_id, model
        self.answer = Answer()
        self._open: Part | None = None  # the part whose content block is being streamed
        self._index = -1  # its index
        self._blocks = 0  # content blocks started
        self._templates: dict[tuple[int, str], FrameTemplate] = {}
        self._found: list[Source] = []  # the pages hosted calls found so far, for citations

    def opening(self) -> list[str]:
        start = _message(self.msg_id, self.model, [], None)
        return [sse_event({"type": "message_start", "message": start}), sse_event({"type": "ping"})]

    def frames(self, event: Event) -> list[str]:
        if isinstance(event, Restart):
            raise stream_interrupted()
        part = self.answer.add(event)
        if isinstance(event, Finish):
            server_tools = hosted.counts(self.answer.parts) if self._found else None
            usage = _usage(event.usage, server_tools)
            return self._close() + [
                sse_event({"type": "message_delta", "delta": _ending(event), "usage": usage}),
                sse_event({"type": "message_stop"}),
            ]
        if part is None:
            return []
        if isinstance(event, (ToolUse, ToolResult)):  # a whole block: started and stopped at once
            frames = self._close()
            self._index, self._blocks = self._blocks, self._blocks + 1
            if not is_web(event.hosted):
                block = activity.mcp_block(event)
            elif isinstance(event, ToolUse):
                block = hosted.server_tool_use(part)
            else:
                block = hosted.server_result(event)
                self._found = hosted.sources(self.answer.parts)
            if block["type"] == "server_tool_use":  # its input streams, as Anthropic's does
                opened = {**block, "input": {}}
                frames.append(sse_event({"type": "content_block_start", "index": self._index, "content_block": opened}))
                frames.append(self._delta_frame("input_json_delta", "partial_json", json.dumps(block["input"])))
            else:
                frames.append(sse_event({"type": "content_block_start", "index": self._index, "content_block": block}))
            return frames + [sse_event({"type": "content_block_stop", "index": self._index})]
        frames = []
        if part is not self._open:
            frames += self._close()
            self._open, self._index, self._blocks = part, self._blocks, self._blocks + 1
            block = _block(part, whole=False)
            frames.append(sse_event({"type": "content_block_start", "index": self._index, "content_block": block}))
        delta = _delta(event)
        if delta is not None:
            frames.append(self._delta_frame(*delta))
        return frames

    def _delta_frame(self, kind: str, field: str, piece: str) -> str:
        template = self._templates.get((self._index, kind))
        if template is None:
            payload = {"type": "content_block_delta", "index": self._index, "delta": {"type": kind, field: hole()}}
            template = self._templates[(self._index, kind)] = FrameTemplate(sse_event(payload))
        return template.fill(piece)

    def _close(self) -> list[str]:
        """The open block's end: a text's citations (once its text is whole), then its stop."""
        part, self._open = self._open, None
        if part is None:
            return []
        cited = hosted.anthropic_citations(part.text, self._found) if part.kind == "text" and self._found else []
        frames = [
            sse_event(
                {
                    "type": "content_block_delta",
                    "index": self._index,
                    "delta": {"type": "citations_delta", "citation": c},
                }
            )
            for c in cited
        ]
        return frames + [sse_event({"type": "content_block_stop", "index": self._index})]

    def closing(self) -> list[str]:
        return []  # message_stop came with the Finish

    def failure(self, error: GatewayError) -> list[str]:
        return [sse_event(error.anthropic_body())]
