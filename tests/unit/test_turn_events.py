"""One turn's SDK messages as events: what ends an answer, and what must not follow its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from claude_agent_sdk import AssistantMessage, ResultMessage, TextBlock, ToolUseBlock

from app.core.events import Finish, TextDelta, ToolCallStart
from app.engine.reading.reader import TurnReader
from app.engine.reading.running import TurnMessages, turn_events
from app.engine.reading.stops import StopScanner


class StandInProcess:
    """What turn_events uses of a process, for messages that come from a list."""

    bridge = None
    died = False
    stderr_tail = ""

    def close(self, interrupt: bool = False) -> None: ...


async def messages(*items) -> AsyncGenerator:
    for item in items:
        yield item


def result(**fields) -> ResultMessage:
    return ResultMessage(
        subtype="success",
        duration_ms=1,
        duration_api_ms=1,
        is_error=False,
        num_turns=1,
        session_id="s",
        usage=fields.get("usage", {"input_tokens": 5, "output_tokens": 3}),
    )


async def events_of(*items, stops=None) -> list:
    reader = TurnReader(30)
    scanner = StopScanner(stops) if stops else None
    stream = turn_events(StandInProcess(), TurnMessages(messages(*items)), reader, scanner, 60, 30)  # type: ignore[arg-type]
    return [event async for event in stream]


async def test_nothing_read_after_a_stop_string_goes_out():
    whole = AssistantMessage(
        content=[TextBlock("one STOP two"), ToolUseBlock("toolu_1", "mcp__client__f", {"a": 1})],
        model="m",
        message_id="msg_1",
    )
    events = await events_of(whole, result(), stops=["STOP"])
    assert [type(e) for e in events] == [TextDelta, Finish]
    assert events[0].text == "one " and events[1].reason == "stop_sequence"
    assert not any(isinstance(e, ToolCallStart) for e in events)


async def test_a_result_ends_the_turn():
    events = await events_of(AssistantMessage(content=[TextBlock("hi")], model="m", message_id="m1"), result())
    assert events[-1] == Finish("stop", events[-1].usage, "m", events[-1].message, claude_session="s")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hi"


def test_reading_a_message_does_not_cancel_the_sdks_reading_when_a_call_comes_first():
    async def scenario():
        arrived = asyncio.Event()

        async def slow() -> AsyncGenerator:
            await arrived.wait()
            yield "late message"

        stream = TurnMessages(slow())
        calling = asyncio.Event()
        calling.set()
        assert await stream.next(calling) is None  # the call came first: the CLI waits
        arrived.set()
        assert await stream.next() == "late message"  # the same read, still pending, delivers it
        await stream.aclose()

    asyncio.run(scenario())


def test_reading_without_a_call_to_race_then_with_one_keeps_the_order_and_honours_the_call():
    async def scenario():
        arrived = asyncio.Event()

        async def source() -> AsyncGenerator:
            yield "first"
            yield "second"
            await arrived.wait()
            yield "late"

        stream = TurnMessages(source())
        assert await stream.next() == "first"  # nothing to race: read in this task
        calling = asyncio.Event()
        assert await stream.next(calling) == "second"  # a call may come, none did: the message
        calling.set()
        assert await stream.next(calling) is None  # the call came first: the CLI waits
        assert not stream.ended
        arrived.set()
        assert await stream.next() == "late"  # the pending read, not a second one, delivers it
        assert await stream.next() is None and stream.ended
        await stream.aclose()

    asyncio.run(scenario())
