"""OpenAI Responses <-> the gateway's Turn and Events. Pure functions, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..engine.types import (
    Block,
    Event,
    Finish,
    Message,
    Restart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Turn,
)
from ..errors import GatewayError, invalid_request
from ..protocol import openai_responses as orq
from .common import (
    append_message,
    clamped_limits,
    effort,
    forced_tool_instruction,
    ignored,
    image_from_url,
    output_limit,
    output_schema,
    refuse_tools_with_schema,
    require_user_last,
    system_prompt,
    text_blocks,
    tool_call,
    tool_result,
    tool_spec,
)
from .sse import sse_event, stream_interrupted

UNAPPLIED = ("temperature", "top_p", "truncation", "service_tier", "include")


def ignored_parameters(request: orq.ResponsesRequest) -> list[str]:
    found = clamped_limits(max_output_tokens=request.max_output_tokens)
    if request.parallel_tool_calls is False or (request.parallel_tool_calls is not None and not request.tools):
        found.append("parallel_tool_calls")
    if request.tools and (request.tool_choice == "required" or isinstance(request.tool_choice, orq.NamedFunction)):
        found.append("tool_choice")
    return ignored(request, UNAPPLIED, found)


def to_turn(
    request: orq.ResponsesRequest,
    model: str | None,
    tenant: str,
    request_id: str,
    earlier: list[Message],
    earlier_system: str | None,
) -> Turn:
    """The turn: the conversation up to previous_response_id (`earlier`), then the new input."""
    system_parts = [request.instructions or earlier_system]
    messages = [Message(m.role, list(m.content)) for m in earlier]
    items = [orq.MessageItem(role="user", content=request.input)] if isinstance(request.input, str) else request.input
    for i, item in enumerate(items):
        _add_item(item, f"input[{i}]", messages, system_parts)
    require_user_last(messages, "input")
    hidden = request.tool_choice == "none"
    tools = () if hidden else tuple(tool_spec(t.name, t.description, t.parameters) for t in request.tools or [])
    fmt = request.text.format if request.text else None
    refuse_tools_with_schema(bool(tools), fmt.type if fmt else None, "text.format")
    if tools and request.tool_choice == "required":
        system_parts.append(forced_tool_instruction(""))
    elif tools and isinstance(request.tool_choice, orq.NamedFunction):
        system_parts.append(forced_tool_instruction(request.tool_choice.name))
    return Turn(
        model=model,
        messages=messages,
        system=system_prompt(system_parts),
        max_output_tokens=output_limit(request.max_output_tokens),
        tenant=tenant,
        request_id=request_id,
        effort=effort(request.reasoning.effort if request.reasoning else None, "reasoning.effort"),
        output_schema=output_schema(fmt.type if fmt else None, fmt.schema_ if fmt else None, "text.format.schema"),
        user=request.user,
        metadata=dict(request.metadata or {}),
        tools=tools,
    )


def _add_item(item: orq.InputItem, where: str, messages: list[Message], system_parts: list[str | None]) -> None:
    if isinstance(item, orq.MessageItem):
        blocks = _content(item.content, where)
        if item.role == "system" or item.role == "developer":
            system_parts.append(" ".join(b["text"] for b in blocks if b["type"] == "text"))
        else:
            append_message(messages, item.role, blocks)
    elif isinstance(item, orq.FunctionCallItem):
        append_message(
            messages, "assistant", [tool_call(item.call_id, item.name, item.arguments, f"{where}.arguments")]
        )
    elif isinstance(item, orq.FunctionCallOutputItem):
        append_message(messages, "user", [tool_result(item.call_id, _output_text(item.output, where))])
    # reasoning items: earlier reasoning is not sent back to Claude


def _content(content: str | list[orq.ContentPart], where: str) -> list[Block]:
    if isinstance(content, str):
        return text_blocks(content)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if isinstance(part, (orq.InputText, orq.OutputText, orq.PlainText)):
            blocks.extend(text_blocks(part.text))
        elif isinstance(part, orq.Refusal):
            blocks.append({"type": "text", "text": part.refusal})
        elif part.image_url is not None:
            blocks.append(image_from_url(part.image_url, f"{where}.content[{j}].image_url"))
        else:
            raise invalid_request(
                f"{where}.content[{j}] needs an image_url: file ids are not served here.",
                f"{where}.content[{j}].image_url",
            )
    return blocks


def _output_text(output: str | list[orq.ContentPart], where: str) -> str:
    """A function's output as the text Claude gets: a string, or the text of its parts."""
    if isinstance(output, str):
        return output
    texts = []
    for j, part in enumerate(output):
        if not isinstance(part, (orq.InputText, orq.OutputText, orq.PlainText)):
            raise invalid_request(
                f"{where}.output[{j}]: only text parts can be a function's output here.", f"{where}.output[{j}]"
            )
        texts.append(part.text)
    return "\n".join(texts)


# --- out ------------------------------------------------------------------------------------
def response_id() -> str:
    return f"resp_{uuid.uuid4().hex[:24]}"


class ResponseBuilder:
    """The Response object, and its streaming events, from the turn's events."""

    def __init__(self, resp_id: str, created: int, request: orq.ResponsesRequest) -> None:
        self.request = request
        self.base: dict[str, Any] = {
            "id": resp_id,
            "object": "response",
            "created_at": created,
            "model": request.model,
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "previous_response_id": request.previous_response_id,
            "store": request.store is not False,
            "tools": [t.model_dump(exclude_none=True) for t in request.tools or []],
            "tool_choice": request.tool_choice
            if isinstance(request.tool_choice, str) or request.tool_choice is None
            else request.tool_choice.model_dump(),
            "parallel_tool_calls": request.parallel_tool_calls is not False,
            "text": {
                "format": (
                    request.text.format.model_dump(by_alias=True, exclude_none=True)
                    if request.text and request.text.format
                    else {"type": "text"}
                )
            },
            "metadata": request.metadata or {},
            "temperature": request.temperature,
            "top_p": request.top_p,
            "user": request.user,
            "error": None,
            "incomplete_details": None,
        }
        self.output: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.status = "in_progress"
        self._seq = 0
        self._arguments: dict[int, int] = {}  # tool call index -> position in output

    # whole
    def apply(self, event: Event) -> None:
        """Fold one event into the response (used for whole responses and by the stream)."""
        if isinstance(event, Restart):
            self.output.clear()
            self._arguments.clear()
        elif isinstance(event, ThinkingDelta):
            item = self._last("reasoning") or self._add(
                {
                    "type": "reasoning",
                    "id": f"rs_{uuid.uuid4().hex[:24]}",
                    "summary": [{"type": "summary_text", "text": ""}],
                }
            )
            item["summary"][0]["text"] += event.text
        elif isinstance(event, TextDelta):
            item = self._last("message") or self._add(
                {
                    "type": "message",
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "", "annotations": []}],
                }
            )
            item["content"][0]["text"] += event.text
        elif isinstance(event, ToolCallStart):
            self._arguments[event.index] = len(self.output)
            self._add(
                {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": event.id,
                    "name": event.name,
                    "arguments": "",
                    "status": "in_progress",
                }
            )
        elif isinstance(event, ToolCallDelta) and event.index in self._arguments:
            self.output[self._arguments[event.index]]["arguments"] += event.arguments
        elif isinstance(event, Finish):
            for item in self.output:
                if "status" in item:
                    item["status"] = "completed"
            usage = event.usage
            self.usage = {
                "input_tokens": usage.prompt_tokens,
                "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.prompt_tokens + usage.output_tokens,
            }
            if event.reason == "length":
                self.status = "incomplete"
                self.base["incomplete_details"] = {"reason": "max_output_tokens"}
            else:
                self.status = "completed"

    def _last(self, kind: str) -> dict[str, Any] | None:
        return self.output[-1] if self.output and self.output[-1]["type"] == kind else None

    def _add(self, item: dict[str, Any]) -> dict[str, Any]:
        self.output.append(item)
        return item

    def response(self) -> dict[str, Any]:
        return {**self.base, "status": self.status, "output": self.output, "usage": self.usage}

    def failed(self, error: GatewayError) -> dict[str, Any]:
        self.status = "failed"
        return {**self.response(), "error": {"code": error.code or error.type, "message": error.message}}

    # streamed
    def _event(self, kind: str, **fields: Any) -> str:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse_event(payload)

    def opening(self) -> list[str]:
        return [
            self._event("response.created", response=self.response()),
            self._event("response.in_progress", response=self.response()),
        ]

    def closing(self) -> list[str]:
        return []  # response.completed came with the Finish

    def frames(self, event: Event) -> list[str]:
        """Streaming events for one engine event (thinking is kept for the final response only)."""
        if isinstance(event, Restart):
            raise stream_interrupted()
        before = len(self.output)
        last = self.output[-1] if self.output else None
        self.apply(event)
        frames: list[str] = []
        if isinstance(event, TextDelta) and event.text:
            item = self.output[-1]
            index = len(self.output) - 1
            if len(self.output) > before:
                frames += self._close(last, before - 1)
                frames.append(
                    self._event("response.output_item.added", output_index=index, item={**item, "content": []})
                )
                frames.append(
                    self._event(
                        "response.content_part.added",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        part={"type": "output_text", "text": "", "annotations": []},
                    )
                )
            frames.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=event.text,
                )
            )
        elif isinstance(event, ToolCallStart):
            frames += self._close(last, before - 1)
            item = self.output[-1]
            frames.append(
                self._event(
                    "response.output_item.added", output_index=len(self.output) - 1, item={**item, "arguments": ""}
                )
            )
        elif isinstance(event, ToolCallDelta) and event.index in self._arguments:
            index = self._arguments[event.index]
            frames.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=self.output[index]["id"],
                    output_index=index,
                    delta=event.arguments,
                )
            )
        elif isinstance(event, Finish):
            frames += self._close(self.output[-1] if self.output else None, len(self.output) - 1)
            kind = "response.incomplete" if self.status == "incomplete" else "response.completed"
            frames.append(self._event(kind, response=self.response()))
        return frames

    def _close(self, item: dict[str, Any] | None, index: int) -> list[str]:
        """The .done events of the item that just ended."""
        if item is None or item["type"] == "reasoning":
            return []
        done = {**item, "status": "completed"}
        if item["type"] == "message":
            part = item["content"][0]
            return [
                self._event(
                    "response.output_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=part["text"],
                ),
                self._event(
                    "response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part
                ),
                self._event("response.output_item.done", output_index=index, item=done),
            ]
        return [
            self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            ),
            self._event("response.output_item.done", output_index=index, item=done),
        ]

    def failure(self, error: GatewayError) -> list[str]:
        return [self._event("response.failed", response=self.failed(error))]


def build(events: Iterable[Event], builder: ResponseBuilder) -> dict[str, Any]:
    for event in events:
        builder.apply(event)
    return builder.response()
