"""Answers that must call a function: OpenAI's `tool_choice` "required" or a named function, and
Anthropic's "any" or "tool".

Claude Code cannot send Claude a `tool_choice`. The system prompt asks for the call; if Claude
answers without one anyway, the same turn goes on once with a user message that asks again, and
the client gets that second answer. Until a call shows up, an answer is held back, so a client never
sees text that the correction replaces. If the second answer has no call either, the client gets
the first answer (with the usage of both), and the turn notes `tool_choice` as not applied (the
response header `X-Gateway-Ignored-Params` names it). A call of another function than the one
named is passed on as it is, and noted the same way.

The one asking again replaces the turn's reader and SDK messages (`Run`): the router reads from
the run whatever the answer's end left (the reader, the messages to close or hold).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from ...core.events import Event, Finish, ToolCallStart
from ...core.messages import Message
from ...core.turn import Turn, ask_for_call
from ..processes.process import ClaudeProcess
from ..reading.reader import TurnReader
from ..reading.running import TurnMessages, turn_events
from ..reading.stops import StopScanner
from .conversation import user_frame

TOOL_CHOICE = "tool_choice"


@dataclass
class Run:
    """What reads the turn's answer; a correction replaces both."""

    reader: TurnReader
    messages: TurnMessages
    corrected: bool = False

    @property
    def clean(self) -> bool:
        """Claude ended the turn, holding what the client sees."""
        return self.reader.completed_cleanly and not self.reader.awaiting_tools and not self.corrected


def answer_events(
    process: ClaudeProcess, run: Run, turn: Turn, timeout: float, retry_after: int
) -> AsyncGenerator[Event, None]:
    """The answer's events; one that must call a function is asked again once (`forced_call`)."""
    stops = StopScanner(turn.stop) if turn.stop else None
    first = turn_events(process, run.messages, run.reader, stops, timeout, retry_after)
    if turn.forced_tool is None or not turn.tools:
        return first

    async def again() -> AsyncGenerator[Event, None]:
        await run.messages.aclose()
        run.corrected = True
        asks = process.prompts.asks if process.prompts else None
        run.reader = TurnReader.for_turn(turn, retry_after, asks)
        ask = Message("user", [{"type": "text", "text": ask_for_call(turn.forced_tool or "")}])
        run.messages = TurnMessages(process.turn(user_frame(ask)))
        async with aclosing(turn_events(process, run.messages, run.reader, stops, timeout, retry_after)) as events:
            async for event in events:
                yield event

    return forced_call(turn, first, again)


async def forced_call(
    turn: Turn, first: AsyncGenerator[Event, None], again: Callable[[], AsyncGenerator[Event, None]]
) -> AsyncGenerator[Event, None]:
    """The events of an answer that must call `turn.forced_tool`; `again()` goes on with the same
    turn, asking once more, and gives that answer's events."""
    answer = _Held(turn)
    async with aclosing(first):
        async for event in answer.until_call(first):
            yield event
    finish = answer.finish
    if answer.called or finish is None or finish.reason != "stop":
        for event in answer.events:  # a call went out, or the answer was cut short: nothing to ask again
            yield event
        return
    retry = _Held(turn)
    async with aclosing(again()) as second:
        async for event in retry.until_call(second):
            if isinstance(event, Finish):
                event.usage = finish.usage + event.usage
            yield event
    if retry.called:
        return
    turn.unapplied.append(TOOL_CHOICE)  # no call this time either: the first answer stands
    for event in answer.events[:-1]:
        yield event
    spent = finish.usage + retry.finish.usage if retry.finish else finish.usage
    total = (retry.finish or finish).total_cost_usd
    yield Finish(finish.reason, spent, finish.model, finish.message, finish.stop_sequence, total_cost_usd=total)


class _Held:
    """One answer's events, held back until it calls a function."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.events: list[Event] = []
        self.called = False

    @property
    def finish(self) -> Finish | None:
        return next((e for e in reversed(self.events) if isinstance(e, Finish)), None)

    async def until_call(self, events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        """Pass `events` on from the answer's first function call; keep those before it."""
        async for event in events:
            if isinstance(event, ToolCallStart) and not self.called:
                self.called = True
                if self.turn.forced_tool and event.name != self.turn.forced_tool:
                    self.turn.unapplied.append(TOOL_CHOICE)
                for waiting in self.events:
                    yield waiting
                self.events = []
            if self.called:
                yield event
            else:
                self.events.append(event)
