"""Claude Code's messages for one turn, read into the gateway's neutral events."""

from __future__ import annotations

import json
import time
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UserMessage,
)
from claude_agent_sdk import Message as SdkMessage

from ...core.agent import PERMISSION_FUNCTION
from ...core.events import (
    Event,
    Finish,
    FinishReason,
    Restart,
    TextDelta,
    ThinkingDelta,
    ToolResult,
    Usage,
)
from ...core.hosted import RemoteServer
from ...core.messages import Message, StepJoin, answer_message
from ...core.turn import Turn
from ..processes.tools import client_name
from .activity import STRUCTURED_OUTPUT_TOOL, Activity, Asks
from .calls import ClientCalls
from .failures import FailedTurn, turn_error
from .meter import StreamMeter, usage_from

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop_sequence",
    "max_tokens": "length",
    "tool_use": "tool_use",
    "pause_turn": "stop",
    "refusal": "content_filter",
}
# Agent mode: results that end a run at a limit of the request's, and the limit each names. The
# run is not a failure: the client gets what Claude did so far, cut short ("length").
LIMITS = {"error_max_turns": "max_turns", "error_max_budget_usd": "max_budget_usd"}


class TurnReader:
    """Feed it the SDK's messages in order; it returns events, and raises on a failed turn.
    Once `finished`, the turn is over for the client even if the CLI is still going.

    Token deltas come from the partial-message stream. An assistant message that arrived
    without any (a CLI that did not stream it) is emitted whole, so no text is lost. The tools
    Claude Code runs itself are read from the whole messages, streamed or not (activity.py).
    """

    def __init__(
        self,
        default_retry_after: int,
        structured: bool = False,
        legacy_call_id: str | None = None,
        hosted: tuple[str, ...] = (),
        remote: tuple[RemoteServer, ...] = (),
        asks: Asks | None = None,
    ) -> None:
        self.default_retry_after = default_retry_after
        # Structured output: the answer is the input of Claude Code's StructuredOutput tool. The
        # client's functions may be called before it, each step an answer ending in calls as
        # without a schema; text next to those calls is not part of the (JSON) answer.
        self.structured = structured
        self._in_structured_block = False
        self.calls = ClientCalls(legacy_call_id)  # the client's functions this answer calls
        self.awaiting_tools = False  # the answer stopped to call the client's functions
        self.finished = False
        self.completed_cleanly = False  # the CLI reported success and is idle again
        self.session_id: str | None = None  # the CLI's session, for --resume
        # A break-off voids what the turn said since its last settled point (see feed); whether
        # anything was said since then, and where that began in _text.
        self._unsettled_output = False
        self._settled_text = 0
        self._text: list[str] = []
        self._steps = StepJoin()
        self.model: str | None = None
        self._streamed_ids: set[str] = set()
        self._failure: FailedTurn | None = None
        self._retry_after: int | None = None
        self.meter = StreamMeter()  # what a call cut short is charged (consumed())
        self._unstreamed_message: AssistantMessage | None = None  # a whole message with client calls
        # The hosted tools asked for are served, not activity; so are the remote MCP servers' calls.
        # Agent mode's permission prompts: a call that waits for them is a call the client answers.
        self.activity = Activity(hosted, remote, asks)
        self.heard = False  # the CLI has begun the turn (its first frame): a model call is under way

    @classmethod
    def for_turn(cls, turn: Turn, retry_after: int, asks: Asks | None) -> TurnReader:
        """The reader of `turn`'s answer, the one home of what it is told (a forced call's second
        try reads the same way as the first)."""
        schema, legacy = turn.output_schema is not None, turn.legacy_call_id
        return cls(retry_after, schema, legacy, turn.hosted.names, turn.hosted.mcp, asks)

    def feed(self, message: SdkMessage) -> list[Event]:
        self.heard = True
        events = self._read(message)
        for event in events:
            if isinstance(event, ToolResult):
                # A tool ran: the model calls before it are over, and a break-off later voids only
                # what came after (dialects/answer.py folds a Restart the same way). Text after it
                # is a new step, remembered as Chat shows it (StepJoin).
                self._unsettled_output, self._settled_text = False, len(self._text)
                self._steps.tool_ran()
                continue
            self._unsettled_output = not isinstance(event, Restart)
            if isinstance(event, TextDelta):
                self._text.append(self._steps.before(event.text) + event.text)
            elif isinstance(event, Restart):
                del self._text[self._settled_text :]
                self._steps = StepJoin(said=any(self._text))
                self.calls.clear()
        return events

    @property
    def tool_calls(self) -> dict[int, list[str]]:
        """Calls of the client's functions in this answer: index -> [id, name, JSON text so far]."""
        return self.calls.by_index

    def answer(self) -> Message:
        """The assistant turn as a client will send it back: its text, then its function calls."""
        return answer_message("".join(self._text), self.calls.uses())

    def continue_after_tools(self, legacy_call_id: str | None = None) -> None:
        """The client sent the results: the same Claude turn goes on as a new answer."""
        self.calls.legacy_call_id = legacy_call_id
        self.awaiting_tools = False
        self.finished = False
        self._unsettled_output = False  # a break-off now voids only what this answer has said
        self._settled_text = 0
        self.tool_calls.clear()
        self._text.clear()
        self._steps = StepJoin()

    @property
    def unstreamed_calls_pending(self) -> bool:
        """A whole (unstreamed) message called the client's functions; no stop reason will come
        for it, so the turn ends for the client once the CLI waits for their results."""
        return self._unstreamed_message is not None and not self.finished

    def end_unstreamed_calls(self) -> list[Event]:
        """The CLI waits for the results of the calls in an unstreamed message: the answer ends."""
        message, self._unstreamed_message = self._unstreamed_message, None
        return self._ask_for_results(usage_from(message.usage if message else None))

    def _ask_for_results(self, usage: Usage) -> list[Event]:
        self.awaiting_tools = self.finished = True  # the CLI now waits for the client's results
        self._unstreamed_message = None  # the answer has ended: no other way is to end it again
        self.meter.reported = self.meter.reported + usage
        return [Finish("tool_use", usage, self.model, self.answer())]

    def _read(self, message: SdkMessage) -> list[Event]:
        if isinstance(message, StreamEvent):
            return [] if message.parent_tool_use_id else self._stream_event(message.event)
        if isinstance(message, AssistantMessage):
            if message.parent_tool_use_id:
                return list(self.activity.uses(message))  # a subagent's: its calls, not its text
            if message.error:
                text = " ".join(b.text for b in message.content if isinstance(b, TextBlock))
                self._failure = FailedTurn(text=text, kind=message.error)
                return []
            self.model = message.model
            return self._whole_message(message)
        if isinstance(message, UserMessage):
            return list(self.activity.results(message))
        if isinstance(message, RateLimitEvent):
            resets_at = message.rate_limit_info.resets_at
            if message.rate_limit_info.status == "rejected" and resets_at:
                self._retry_after = max(1, int(resets_at - time.time()))
            return []
        if isinstance(message, ResultMessage):
            return self._result(message)
        return []

    def _whole_message(self, message: AssistantMessage) -> list[Event]:
        """A whole assistant message: the calls Claude Code runs itself always (their input is whole
        only here), and unless its deltas streamed already, its text, thinking and client calls."""
        streamed = message.message_id in self._streamed_ids
        events: list[Event] = []
        for block in message.content:
            if (use := self.activity.use(block, None)) is not None:
                events.append(use)
            elif isinstance(block, ToolUseBlock) and self.activity.prompt(block.id):
                # Streamed or not, its input is whole only here. A streamed answer ends at its stop
                # reason, which comes after this frame (CLI 2.1.329); had it come before, the answer
                # ends once the CLI waits for the client, as an unstreamed one does.
                if not streamed or not self.meter.call_open:
                    self._unstreamed_message = message
                events += self.calls.whole(block.id, PERMISSION_FUNCTION, {"tool": block.name, "input": block.input})
            elif streamed:
                continue
            elif isinstance(block, ToolUseBlock) and (name := self._answered_by_client(block.name)) is not None:
                self._unstreamed_message = message
                events += self.calls.whole(block.id, name, block.input)
            elif (event := self._block_event(block)) is not None:
                events.append(event)
        return events

    def _result(self, message: ResultMessage) -> list[Event]:
        self.finished = True
        self.session_id = message.session_id
        limit = LIMITS.get(message.subtype)
        if limit is None and (message.is_error or message.subtype != "success"):
            failure = self._failure or FailedTurn()
            failure.status = message.api_error_status
            failure.subtype = message.subtype
            failure.text = failure.text or message.result or "; ".join(message.errors or [])
            failure.retry_after = self._retry_after
            raise turn_error(failure, self.default_retry_after)
        self.completed_cleanly = True  # a limit too: the CLI is idle again, holding all it did
        reason = "stop" if self.structured else STOP_REASONS.get(message.stop_reason or "end_turn", "stop")
        # The result's usage covers the whole turn: answers that ended in tool calls reported theirs.
        usage = usage_from(message.usage)
        if limit is not None and usage == Usage():  # error_max_budget_usd's result: zeros (CLI 2.1.329)
            usage = self.meter.streamed
        usage = usage - self.meter.reported
        finish = Finish("length" if limit else reason, usage, self.model, self.answer(), limit=limit)
        finish.total_cost_usd, finish.claude_session = message.total_cost_usd, message.session_id
        return [finish]

    def _stream_event(self, event: dict[str, Any]) -> list[Event]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message", {})
            self._streamed_ids.add(message.get("id", ""))
            self.meter.begin(message.get("usage"))
            self.model = self.model or message.get("model") or None
        elif kind == "message_stop" and self.meter.call_open:
            # The stream broke off (an upstream `error` event); Claude Code will call again.
            self.meter.call_open = False
            return [Restart()] if self._unsettled_output else []
        elif kind == "message_delta" and event.get("delta", {}).get("stop_reason"):
            self.meter.end(event.get("usage", {}))
            if event["delta"]["stop_reason"] == "max_tokens":
                return self._cut_at_max_tokens()
            if event["delta"]["stop_reason"] == "tool_use" and self.tool_calls:
                return self._ask_for_results(self.meter.call)
        elif kind == "content_block_start":
            block = event.get("content_block", {})
            self._in_structured_block = block.get("type") == "tool_use" and block.get("name") == STRUCTURED_OUTPUT_TOOL
            self.calls.streaming = None
            if self._in_structured_block and self.structured and len(self._text) > self._settled_text:
                return [Restart()]  # Claude wrote the structured output again (the first try failed)
            name = self._answered_by_client(block.get("name", "")) if block.get("type") == "tool_use" else None
            if name is not None:
                return [self.calls.start(block.get("id", ""), name)]
        elif kind == "content_block_delta":
            delta = event.get("delta", {})
            self.meter.count(delta)
            if delta.get("type") == "text_delta" and not self.structured:
                return [TextDelta(delta.get("text", ""))]
            if delta.get("type") == "thinking_delta":
                return [ThinkingDelta(delta.get("thinking", ""))]
            if delta.get("type") == "input_json_delta" and self.structured and self._in_structured_block:
                return [TextDelta(delta.get("partial_json", ""))]
            if delta.get("type") == "input_json_delta" and self.calls.streaming is not None:
                return [self.calls.piece(self.calls.streaming, delta.get("partial_json", ""))]
        return []

    def _answered_by_client(self, name: str) -> str | None:
        """The name a call goes to the client under, if the client answers it: one of its own
        functions (by its own name), or a remote MCP call that waits for its approval (as Claude
        names it: engine/processes/approvals.py); None for any other."""
        return client_name(name) or (name if self.activity.awaits_approval(name) else None)

    def consumed(self) -> Usage:
        """What the whole turn used by now and no answer reported yet (meter.py): what a turn
        that ended without a result is charged."""
        return self.meter.consumed()

    def _cut_at_max_tokens(self) -> list[Event]:
        """Claude Code would go on by itself ("Output token limit hit. Resume directly"); the client
        asked for at most this many tokens, so the turn ends here."""
        self.finished = True
        # The turn's model calls so far (this one included), not only this one's.
        return [Finish("length", self.meter.streamed - self.meter.reported, self.model, self.answer())]

    def _block_event(self, block: object) -> Event | None:
        if isinstance(block, TextBlock) and not self.structured:
            return TextDelta(block.text)
        if isinstance(block, ThinkingBlock):
            return ThinkingDelta(block.thinking)
        if isinstance(block, ToolUseBlock) and self.structured and block.name == STRUCTURED_OUTPUT_TOOL:
            return TextDelta(json.dumps(block.input, ensure_ascii=False))
        return None
