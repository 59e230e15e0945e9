"""Anthropic Messages <-> the gateway's Turn and Events. Pure functions, no I/O."""

from __future__ import annotations

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
from ...core.messages import Block, Message
from ...core.turn import Turn
from .. import activity
from ..answer import Answer, Part, random_id
from ..documents import document_block
from ..request_rules import (
    add_blocks,
    append_message,
    base64_image,
    clamped_limits,
    ignored,
    output_limit,
    require_content,
    require_user_last,
    system_prompt,
    text_blocks,
    tool_result,
    tool_spec,
    url_image,
)
from ..sse import FrameTemplate, hole, sse_event, stream_interrupted
from . import wire as am

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_use": "tool_use",
    "content_filter": "refusal",
}
# Accepted, not applied (see dialects/openai_chat/inbound.py), each with its no-op values: Claude's defaults.
UNAPPLIED: dict[str, tuple[object, ...]] = {"temperature": (1,), "top_p": (1,), "top_k": (), "service_tier": ("auto",)}


def ignored_parameters(request: am.MessagesRequest) -> list[str]:
    found = clamped_limits(max_tokens=request.max_tokens)
    if request.tools and request.tool_choice and request.tool_choice.disable_parallel_tool_use:
        found.append("tool_choice.disable_parallel_tool_use")
    if request.thinking is not None:
        found += [f"thinking.{name}" for name in sorted(request.thinking.model_extra or {})]
    return ignored(request, UNAPPLIED, found)


def _forced_tool(request: am.MessagesRequest) -> str | None:
    """'' for tool_choice any, a name for a named tool; None when Claude may choose."""
    choice = request.tool_choice
    if choice is None or choice.type not in ("any", "tool"):
        return None
    return choice.name or "" if choice.type == "tool" else ""


def to_turn(request: am.MessagesRequest, model: str | None, tenant: str, request_id: str) -> Turn:
    messages: list[Message] = []
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        blocks = _blocks(message, where)
        if message.role == "user" and not blocks and _only_activity(message):
            continue  # tools that ran without the client: nothing for Claude
        append_message(messages, message.role, require_content(blocks, where) if message.role == "user" else blocks)
    require_user_last(messages, "messages")
    hidden = request.tool_choice is not None and request.tool_choice.type == "none"
    tools = () if hidden else tuple(tool_spec(t.name, t.description, t.input_schema) for t in request.tools or [])
    system = [block.text for block in request.system] if isinstance(request.system, list) else [request.system]
    forced = _forced_tool(request) if tools else None
    return Turn(
        model=model,
        messages=messages,
        system=system_prompt(system, forced),
        forced_tool=forced,
        max_output_tokens=output_limit(request.max_tokens),
        tenant=tenant,
        request_id=request_id,
        stop=[s for s in request.stop_sequences or [] if s],
        user=request.metadata.user_id if request.metadata else None,
        tools=tools,
        thinking=_thinking(request.thinking),
    )


def _thinking(thinking: am.Thinking | None) -> dict[str, Any] | None:
    """Claude Code's thinking setting: the known fields only (each becomes a command-line flag);
    unknown ones are named in the ignored-parameters header instead."""
    if thinking is None:
        return None
    return thinking.model_dump(exclude_none=True, exclude=set(thinking.model_extra or {}))


def _blocks(message: am.MessageParam, where: str) -> list[Block]:
    if isinstance(message.content, str):
        return text_blocks(message.content)
    blocks: list[Block] = []
    gap = False  # the blocks before were left out
    for j, block in enumerate(message.content):
        if isinstance(block, am.TextBlock):
            add_blocks(blocks, text_blocks(block.text), joined=gap and message.role == "assistant")
        elif isinstance(block, am.ImageBlock):
            blocks.append(_image(block, f"{where}.content[{j}].source"))
        elif isinstance(block, am.DocumentBlock):
            source = block.source.model_dump(exclude=set(block.source.model_extra or {}))
            blocks.append(document_block(source, block.title, block.context, f"{where}.content[{j}].source"))
        elif isinstance(block, am.ToolUseBlock):
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif isinstance(block, am.ToolResultBlock):
            blocks.append(tool_result(block.tool_use_id, _result_content(block, f"{where}.content[{j}]")))
        # Left out: thinking blocks of earlier answers (their signatures are Anthropic's), and tools
        # that ran without the client (Claude Code's own, in agent mode): Claude Code ran them.
        gap = isinstance(block, (am.ThinkingBlock, am.RedactedThinkingBlock, am.ActivityBlock))
    return blocks


def _only_activity(message: am.MessageParam) -> bool:
    content = message.content
    return isinstance(content, list) and bool(content) and all(isinstance(b, am.ActivityBlock) for b in content)


def _image(block: am.ImageBlock, param: str) -> Block:
    """The image with only the fields Claude reads (a source's unknown fields are not passed on),
    under the same rules as on the OpenAI doors."""
    source = block.source
    if isinstance(source, am.URLSource):
        return url_image(source.url, f"{param}.url")
    return base64_image(source.media_type, source.data, f"{param}.data", f"{param}.media_type")


def _result_content(block: am.ToolResultBlock, where: str) -> str | list[Block]:
    """A tool result's text (marked as an error where it is one), and its images."""
    if isinstance(block.content, str) or block.content is None:
        return f"Error: {block.content or ''}" if block.is_error else block.content or ""
    parts: list[Block] = []
    for k, part in enumerate(block.content):
        if isinstance(part, am.TextBlock):
            parts.append({"type": "text", "text": part.text})
        else:
            parts.append(_image(part, f"{where}.content[{k}].source"))
    if block.is_error:
        parts.insert(0, {"type": "text", "text": "Error:"})
    return parts


# --- out ------------------------------------------------------------------------------------
def message_id() -> str:
    return random_id("msg_")


def message(events: Iterable[Event], msg_id: str, model: str) -> dict[str, Any]:
    """A whole (non-streamed) message from the turn's events."""
    answer = Answer.of(events)
    content = [block for part in answer.parts for block in _content(part)]
    return _message(msg_id, model, content, answer.ending)


def _message(msg_id: str, model: str, content: list[dict[str, Any]], finish: Finish | None) -> dict[str, Any]:
    """The message: whole, or as message_start opens a stream (no content, no Finish yet)."""
    message = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(finish.usage if finish else Usage()),
    }
    return {**message, **_ending(finish)} if finish else message


def _ending(finish: Finish) -> dict[str, Any]:
    """How the message ended. A run that reached a limit of the request's claude_code (agent mode)
    pauses, as a server tool's long turn does, and names the limit."""
    if finish.limit:
        return {"stop_reason": "pause_turn", "stop_sequence": None, "claude_code_limit": finish.limit}
    return {"stop_reason": STOP_REASONS[finish.reason], "stop_sequence": finish.stop_sequence}


def _content(part: Part) -> list[dict[str, Any]]:
    """A part's content blocks: one, or a tool Claude Code ran and its result (dialects/activity.py)."""
    return activity.mcp_blocks(part) if part.kind == "tool" else [_block(part)]


def _block(part: Part, whole: bool = True) -> dict[str, Any]:
    """A part as a content block: whole, or empty as content_block_start opens it."""
    text = part.text if whole else ""
    if part.kind == "thinking":
        return {"type": "thinking", "thinking": text, "signature": ""}
    if part.kind == "text":
        return {"type": "text", "text": text}
    # Arguments that max_tokens cut off keep only what was complete.
    return {"type": "tool_use", "id": part.call_id, "name": part.name, "input": jsontext.partial_object(text)}


def _usage(usage: Usage) -> dict[str, int]:
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

    def opening(self) -> list[str]:
        start = _message(self.msg_id, self.model, [], None)
        return [sse_event({"type": "message_start", "message": start}), sse_event({"type": "ping"})]

    def frames(self, event: Event) -> list[str]:
        if isinstance(event, Restart):
            raise stream_interrupted()
        part = self.answer.add(event)
        if isinstance(event, Finish):
            return self._close() + [
                sse_event({"type": "message_delta", "delta": _ending(event), "usage": _usage(event.usage)}),
                sse_event({"type": "message_stop"}),
            ]
        if part is None:
            return []
        if isinstance(event, (ToolUse, ToolResult)):  # a whole block: started and stopped at once
            frames = self._close()
            self._index, self._blocks = self._blocks, self._blocks + 1
            block = activity.mcp_block(event)
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
        if self._open is None:
            return []
        self._open = None
        return [sse_event({"type": "content_block_stop", "index": self._index})]

    def closing(self) -> list[str]:
        return []  # message_stop came with the Finish

    def failure(self, error: GatewayError) -> list[str]:
        return [sse_event(error.anthropic_body())]
