"""Events -> OpenAI Chat Completions: a whole chat.completion (one choice per turn), or its
chat.completion.chunk stream. Pure functions, no I/O.

Agent mode adds what Chat Completions has no shape for, as extensions (dialects/activity.py): the tools
Claude Code ran, as lines in the reasoning text and as `claude_code_event(s)` objects, and the
limit a run ended at as `claude_code_limit` (finish_reason "length").
"""

from __future__ import annotations

from typing import Any

from ...core.errors import GatewayError
from ...core.events import (
    Event,
    Finish,
    FinishReason,
    Restart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    ToolUse,
    Usage,
)
from ...core.hosted import Source, is_web
from ...core.messages import StepJoin
from .. import activity, hosted
from ..answer import Answer
from ..sse import FrameTemplate, hole, sse, stream_interrupted
from . import wire as oa
from .custom_calls import CustomDeltas, tool_call

FINISH_REASONS: dict[FinishReason, str] = {
    "stop": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
}


def completion_usage(usage: Usage) -> oa.CompletionUsage:
    return oa.CompletionUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.prompt_tokens + usage.output_tokens,
        prompt_tokens_details=oa.PromptTokensDetails(cached_tokens=usage.cache_read_input_tokens),
    )


def completion(
    choices: list[list[Event]],
    completion_id: str,
    created: int,
    model: str,
    legacy_functions: bool = False,
    custom: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A whole (non-streamed) response: one choice per turn's events, usage summed over them;
    `custom`: the names of the request's custom tools (custom_calls.py)."""
    answers = [Answer.of(events) for events in choices]
    response = oa.ChatCompletion(
        id=completion_id,
        created=created,
        model=model,
        choices=[_choice(index, answer, custom) for index, answer in enumerate(answers)],
        usage=completion_usage(sum((answer.ending.usage for answer in answers), Usage())),
        claude_code_limit=next((answer.ending.limit for answer in answers if answer.ending.limit), None),
    ).model_dump()
    if response["claude_code_limit"] is None:
        del response["claude_code_limit"]
    for choice in response["choices"]:
        if legacy_functions and choice["message"]["tool_calls"]:  # the pre-tools form: one call
            call = choice["message"].pop("tool_calls")[0]
            choice["message"]["function_call"] = call["function"]
            choice["finish_reason"] = "function_call"
        for field in ("reasoning_content", "tool_calls", "function_call", "claude_code_events", "annotations"):
            if choice["message"].get(field, "absent") is None:
                del choice["message"][field]
    return response


def _choice(index: int, answer: Answer, custom: frozenset[str]) -> oa.Choice:
    calls = [tool_call(c.call_id, c.name, c.text, custom) for c in answer.tool_calls]
    message = oa.ResponseMessage(
        content=answer.text if answer.text or not calls else None,
        tool_calls=calls or None,
        reasoning_content=activity.chat_reasoning(answer.parts) or None,
        claude_code_events=activity.chat_events(answer.parts) or None,
        annotations=hosted.chat_annotations(answer.text, found) if (found := hosted.sources(answer.parts)) else None,
    )
    return oa.Choice(index=index, message=message, finish_reason=FINISH_REASONS[answer.ending.reason])


class ChunkStream:
    """Streamed response chunks, all with the same id, created and model, as SSE frames.

    With n choices, each chunk carries its choice's index; the usage chunk (with
    stream_options.include_usage) comes once, after every choice has finished. A chunk whose delta
    is one string (text, thinking, a call's arguments) comes from a template made once (dialects/sse.py).
    """

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        include_usage: bool,
        legacy_functions: bool = False,
        n: int = 1,
        custom: frozenset[str] = frozenset(),
    ) -> None:
        self.completion_id, self.created, self.model, self.n = completion_id, created, model, n
        self.include_usage = include_usage
        self.legacy_functions = legacy_functions  # answer with function_call, the pre-tools form
        self._usage = Usage()
        self._custom = CustomDeltas(custom)  # the request's custom tools' calls (custom_calls.py)
        self._templates: dict[tuple[int, str, int], FrameTemplate] = {}
        self._reasoning_ends: dict[int, str] = {}  # the last character of each choice's reasoning text
        # A hosted search's pages, and each choice's text since the first came (and where that began):
        # what the text cites is annotated as the choice finishes.
        self._found: dict[int, list[Source]] = {}
        self._lengths: dict[int, int] = {}
        self._cited: dict[int, tuple[int, list[str]]] = {}
        self._steps: dict[int, StepJoin] = {}  # each choice's text, the steps apart (as Answer.text)

    def _chunk(
        self,
        delta: dict[str, Any] | None,
        index: int = 0,
        finish: str | None = None,
        usage: oa.CompletionUsage | None = None,
        limit: str | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": []
            if delta is None
            else [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:  # as OpenAI: null on every chunk but the last
            payload["usage"] = usage.model_dump() if usage else None
        if limit is not None:
            payload["claude_code_limit"] = limit
        return sse(payload)

    def _piece(self, field: str, text: str, index: int, call: int = 0) -> list[str]:
        """The chunk of a delta that is one string: the text, the thinking, or a call's arguments."""
        if not text:
            return []
        template = self._templates.get((index, field, call))
        if template is None:
            deltas: dict[str, dict[str, Any]] = {
                "content": {"content": hole()},
                "reasoning_content": {"reasoning_content": hole()},
                "arguments": {"tool_calls": [{"index": call, "function": {"arguments": hole()}}]},
                "input": {"tool_calls": [{"index": call, "custom": {"input": hole()}}]},
                "function_call": {"function_call": {"arguments": hole()}},
            }
            template = self._templates[(index, field, call)] = FrameTemplate(self._chunk(deltas[field], index))
        return [template.fill(text)]

    def start(self, index: int = 0) -> str:
        return self._chunk({"role": "assistant", "content": ""}, index)

    def event(self, event: Event, index: int = 0) -> list[str]:
        if isinstance(event, TextDelta):
            text = self._steps.setdefault(index, StepJoin()).before(event.text) + event.text
            if index in self._cited:
                self._cited[index][1].append(text)
            else:
                self._lengths[index] = self._lengths.get(index, 0) + len(text)
            return self._piece("content", text, index)
        if isinstance(event, ToolResult):
            self._steps.setdefault(index, StepJoin()).tool_ran()
        if isinstance(event, (ToolUse, ToolResult)) and is_web(event.hosted):  # Chat shows no search, only citations
            if isinstance(event, ToolResult) and event.sources:
                self._found.setdefault(index, []).extend(event.sources)
                self._cited.setdefault(index, (self._lengths.get(index, 0), []))
            return []
        if isinstance(event, ThinkingDelta):
            if event.text:
                self._reasoning_ends[index] = event.text[-1]
            return self._piece("reasoning_content", event.text, index)
        if isinstance(event, (ToolUse, ToolResult)):
            line = activity.on_its_own_line(self._reasoning_ends.get(index, ""), activity.chat_line(event))
            self._reasoning_ends[index] = "\n"
            return [self._chunk({"reasoning_content": line, "claude_code_event": activity.chat_event(event)}, index)]
        if self.legacy_functions and isinstance(event, (ToolCallStart, ToolCallDelta)):
            return self._legacy_call(event, index)
        if isinstance(event, ToolCallStart) and (custom := self._custom.start(event, index)):
            return [self._chunk({"tool_calls": [custom]}, index)]
        if isinstance(event, ToolCallDelta) and (raw := self._custom.piece(event, index)) is not None:
            return self._piece("input", raw, index, event.index)
        if isinstance(event, ToolCallStart):
            call = {
                "index": event.index,
                "id": event.id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]}, index)]
        if isinstance(event, ToolCallDelta):
            return self._piece("arguments", event.arguments, index, event.index)
        if isinstance(event, Restart):
            raise stream_interrupted()
        if isinstance(event, Finish):
            self._usage = self._usage + event.usage
            reason = FINISH_REASONS[event.reason]
            if self.legacy_functions and reason == "tool_calls":
                reason = "function_call"
            rest = [piece for call, raw in self._custom.rest(index) for piece in self._piece("input", raw, index, call)]
            return [*rest, *self._annotations(index), self._chunk({}, index, reason, limit=event.limit)]
        return []

    def _annotations(self, index: int) -> list[str]:
        """The chunk with the citations of the choice's text, if it cites pages its searches found."""
        if index not in self._cited:
            return []
        offset, pieces = self._cited[index]
        cited = hosted.chat_annotations("".join(pieces), self._found[index])
        for annotation in cited:
            span = annotation["url_citation"]
            span["start_index"], span["end_index"] = span["start_index"] + offset, span["end_index"] + offset
        return [self._chunk({"annotations": cited}, index)] if cited else []

    def _legacy_call(self, event: ToolCallStart | ToolCallDelta, index: int) -> list[str]:
        """The first call only, as delta.function_call (the legacy form has one call an answer)."""
        if event.index != 0:
            return []
        if isinstance(event, ToolCallStart):
            return [self._chunk({"function_call": {"name": event.name, "arguments": ""}}, index)]
        return self._piece("function_call", event.arguments, index)

    def end(self) -> list[str]:
        """After every choice: the usage chunk, if asked for."""
        return [self._chunk(None, usage=completion_usage(self._usage))] if self.include_usage else []

    # The stream writer interface every front door's stream has (app/http/respond.Frames):
    def opening(self) -> list[str]:
        return [self.start(index) for index in range(self.n)]

    def frames(self, item: tuple[int, Event]) -> list[str]:
        index, event = item
        return self.event(event, index)

    def closing(self) -> list[str]:
        return [*self.end(), self.done()]

    def failure(self, error: GatewayError) -> list[str]:
        return [self.error(error), self.done()]

    @staticmethod
    def error(error: GatewayError) -> str:
        return sse(error.openai_body())

    @staticmethod
    def done() -> str:
        return "data: [DONE]\n\n"
