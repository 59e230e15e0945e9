"""Events -> OpenAI Responses: the Response object, whole or as its stream of events. Pure
functions, no I/O. A hosted web search is a `web_search_call` item, with `url_citation`
annotations on the text that cites what it found (dialects/hosted.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from ...core.errors import GatewayError
from ...core.events import Event, Finish, Restart, TextDelta, ToolCallDelta, ToolList, ToolResult, ToolUse, Usage
from .. import activity, hosted
from ..answer import Answer, Part, random_id
from ..sse import FrameTemplate, hole, sse_event, stream_interrupted
from . import mcp_items as mcp
from . import wire as orq
from .call_items import CallItems

ITEM_ID_PREFIXES = {"thinking": "rs_", "text": "msg_"}  # a call's: call_items.py


def response_id() -> str:
    return random_id("resp_")


class ResponseBuilder:
    """The Response object, and its streaming events, from the turn's events: each part of the
    answer is an output item (reasoning, a message, a call of the client's tools: call_items.py, a
    tool Claude Code ran)."""

    def __init__(
        self,
        resp_id: str,
        created: int,
        request: orq.ResponsesRequest,
        on_finish: Callable[[dict[str, Any]], None] = lambda response: None,
        listed: Collection[str] = (),
    ) -> None:
        # Given the finished Response once, whole or streamed: the very one the client gets.
        self.on_finish = on_finish
        self.calls = CallItems(request.tools)
        self.remote = self.calls.remote  # remote MCP servers: a call of theirs may wait for approval
        self.with_sources = hosted.SOURCES_INCLUDE in (request.include or [])
        self.base: dict[str, Any] = {
            "id": resp_id,
            "object": "response",
            "created_at": created,
            "model": request.model,
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "previous_response_id": request.previous_response_id,
            "store": request.store is not False,
            "tools": [mcp.echoed(t) for t in request.tools or []],
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
        }
        self.answer = Answer()
        self._seq = 0
        self._open: Part | None = None  # the part whose output item is being streamed
        self._index = -1  # its index in output
        self._running: dict[str, int] = {}  # tools Claude Code runs: call id -> output index
        self._templates: dict[tuple[str, str, int], FrameTemplate] = {}
        # mcp_list_tools items, before every part; not for the servers the conversation `listed` already
        self._lists: list[dict[str, Any]] = []
        self._listed = set(listed)

    def add(self, event: Event) -> Part | None:
        """Fold in an event: a remote MCP server's tool list as its item, any other into the answer."""
        if isinstance(event, ToolList):
            if event.server not in self._listed and not self.answer.parts:
                self._listed.add(event.server)
                self._lists.append(mcp.list_item(event))
            return None
        return self.answer.add(event)

    def _at(self, part_index: int) -> int:
        """The output index of a part: after the tool lists."""
        return len(self._lists) + part_index

    # whole
    def response(self, status: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Response as far as the turn has come (or with the `status` and `error` it failed with)."""
        finish = self.answer.finish
        cut = finish is not None and finish.reason == "length"
        return {
            **self.base,
            "error": error,
            # max_output_tokens, or in agent mode a limit of the request's claude_code (max_turns, ...)
            "incomplete_details": {"reason": finish.limit or "max_output_tokens"} if finish and cut else None,
            "status": status or ("in_progress" if finish is None else "incomplete" if cut else "completed"),
            "output": [*self._lists, *(self._item(part) for part in self.answer.parts)],
            "usage": None if finish is None else _usage(finish.usage),
        }

    def failed(self, error: GatewayError) -> dict[str, Any]:
        return self.response("failed", {"code": error.code or error.type, "message": error.message})

    def _item(self, part: Part, status: str | None = None) -> dict[str, Any]:
        """A part as an output item; its status is the turn's, unless given."""
        status = status or ("in_progress" if self.answer.finish is None else "completed")
        if hosted.is_hosted(part):
            return hosted.responses_item(part, self.answer.finish is not None, self.with_sources)
        if part.kind == "tool":
            return mcp.approved(activity.responses_item(part, self.answer.finish is not None), part, self.remote)
        if part.kind == "thinking":
            return {"type": "reasoning", "id": _item_id(part), "summary": [{"type": "summary_text", "text": part.text}]}
        if part.kind == "text":
            return {
                "type": "message",
                "id": _item_id(part),
                "status": status,
                "role": "assistant",
                "content": [_text_part(part.text, self._annotations(part))],
            }
        return self.calls.item(part, status)

    def _annotations(self, part: Part) -> list[dict[str, Any]]:
        """A text's citations of the pages the answer's hosted searches found so far."""
        found = hosted.sources(self.answer.parts)
        return hosted.responses_annotations(part.text, found) if found else []

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

    def failure(self, error: GatewayError) -> list[str]:
        return [self._event("response.failed", response=self.failed(error))]

    def frames(self, event: Event) -> list[str]:
        """Streaming events for one engine event (thinking is kept for the final response only)."""
        if isinstance(event, Restart):
            raise stream_interrupted()
        lists = len(self._lists)
        part = self.add(event)
        if len(self._lists) > lists:
            return mcp.list_frames(self._event, self._lists[-1], len(self._lists) - 1)
        if isinstance(event, Finish):
            done = self.response()
            self.on_finish(done)
            kind = "response.incomplete" if done["status"] == "incomplete" else "response.completed"
            frames = self._close()  # each frame's sequence number in the order they go out
            frames += [frame for call_id in list(self._running) for frame in self._tool_done(call_id)]
            return frames + [self._event(kind, response=done)]
        if part is None:
            return []
        if isinstance(event, ToolUse):  # added now, done when its result comes
            index = self._running[event.id] = self._at(len(self.answer.parts) - 1)
            frames = self._close()
            item = self._item(part)
            frames.append(self._event("response.output_item.added", output_index=index, item=item))
            if item["type"] == "web_search_call":  # as OpenAI streams a search: in progress, searching, then completed
                for stage in ("in_progress", "searching"):
                    frames.append(
                        self._event(f"response.web_search_call.{stage}", output_index=index, item_id=item["id"])
                    )
            elif item["type"] == "mcp_call":
                frames += mcp.call_frames(self._event, item, index)
            return frames
        if isinstance(event, ToolResult):
            return self._tool_done(event.id)
        frames = []
        if part is not self._open:
            frames += self._close()
            self._open, self._index = part, self._at(len(self.answer.parts) - 1)
            frames += self._added(part)
        if isinstance(event, TextDelta):
            frames.append(self._delta("response.output_text.delta", event.text, part))
        elif isinstance(event, ToolCallDelta) and (delta := self.calls.delta(part, event.arguments)):
            frames.append(self._delta(*delta, part))
        return frames

    def _delta(self, kind: str, piece: str, part: Part) -> str:
        """A delta event of the open item, from a template made once (dialects/sse.py)."""
        key = (kind, part.key, self._index)
        template = self._templates.get(key)
        if template is None:
            payload = {"type": kind, "sequence_number": hole(0), **self._where(part), "delta": hole(1)}
            template = self._templates[key] = FrameTemplate(sse_event(payload), holes=2)
        self._seq += 1
        return template.fill(self._seq - 1, piece)

    def _where(self, part: Part) -> dict[str, Any]:
        item_id = self.calls.item_id(part) if part.kind == "tool_call" else _item_id(part)
        where = {"item_id": item_id, "output_index": self._index}
        return {**where, "content_index": 0} if part.kind == "text" else where

    def _added(self, part: Part) -> list[str]:
        """The events of an item that begins: a message's opens with its empty text part."""
        if part.kind == "thinking":
            return []
        if part.kind == "tool_call":
            item = self.calls.opening(part)
            return [self._event("response.output_item.added", output_index=self._index, item=item)] if item else []
        return [
            self._event(
                "response.output_item.added", output_index=self._index, item={**self._item(part), "content": []}
            ),
            self._event("response.content_part.added", **self._where(part), part=_text_part("")),
        ]

    def _tool_done(self, call_id: str) -> list[str]:
        """The done event of a tool Claude Code ran: with its result, or incomplete without one."""
        index = self._running.pop(call_id, None)
        if index is None:
            return []
        item = self._item(self.answer.parts[index - len(self._lists)])
        frames = mcp.call_done_frames(self._event, item, index)
        if item["type"] == "web_search_call":
            frames.append(self._event("response.web_search_call.completed", output_index=index, item_id=item["id"]))
        return frames + [self._event("response.output_item.done", output_index=index, item=item)]

    def _close(self) -> list[str]:
        """The .done events of the item that ends."""
        part, self._open = self._open, None
        if part is None or part.kind == "thinking":
            return []
        if part.kind == "tool_call":
            frames = [self._event(kind, **fields) for kind, fields in self.calls.closing(part, self._where(part))]
        else:
            annotations = self._annotations(part)
            frames = [
                self._event(
                    "response.output_text.annotation.added", **self._where(part), annotation_index=i, annotation=a
                )
                for i, a in enumerate(annotations)
            ]
            frames += [
                self._event("response.output_text.done", **self._where(part), text=part.text),
                self._event("response.content_part.done", **self._where(part), part=_text_part(part.text, annotations)),
            ]
        done = self._item(part, "completed")
        return [*frames, self._event("response.output_item.done", output_index=self._index, item=done)]


def _item_id(part: Part) -> str:
    return f"{ITEM_ID_PREFIXES[part.kind]}{part.key}"


def _text_part(text: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": annotations or []}


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.prompt_tokens + usage.output_tokens,
    }


def build(events: Iterable[Event], builder: ResponseBuilder) -> dict[str, Any]:
    for event in events:
        builder.add(event)
    response = builder.response()
    if builder.answer.finish is not None:
        builder.on_finish(response)
    return response
