"""Chat's `n`: several one-off turns merged into one stream of indexed events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from app.core.errors import GatewayError
from app.core.events import Event, Finish, TextDelta
from app.doors.fanout import by_choice, indexed, merged


def scripted(*steps: object, log: list[str] | None = None, name: str = "") -> AsyncGenerator[Event, None]:
    """Events and pauses (floats: seconds); an exception is raised where it stands."""

    async def run() -> AsyncGenerator[Event, None]:
        try:
            for step in steps:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                elif isinstance(step, BaseException):
                    raise step
                else:
                    yield step  # type: ignore[misc]
        finally:
            if log is not None:
                log.append(f"{name} closed")

    return run()


async def test_choices_interleave_as_they_come_and_sort_back():
    fast = scripted(TextDelta("a1"), 0.02, TextDelta("a2"), Finish("stop"))
    slow = scripted(0.01, TextDelta("b1"), 0.03, Finish("stop"))
    items = [item async for item in merged([fast, slow])]
    assert [(i, e.text) for i, e in items if isinstance(e, TextDelta)] == [(0, "a1"), (1, "b1"), (0, "a2")]
    choices = by_choice(items, 2)
    assert [type(e) for e in choices[0]] == [TextDelta, TextDelta, Finish]
    assert [type(e) for e in choices[1]] == [TextDelta, Finish]


async def test_the_first_failure_ends_every_choice():
    log: list[str] = []
    failing = scripted(TextDelta("x"), 0.01, GatewayError(429, "slow down"), log=log, name="failing")
    endless = scripted(*[item for _ in range(100) for item in (TextDelta("y"), 0.01)], log=log, name="endless")
    with pytest.raises(GatewayError) as raised:
        async for _ in merged([failing, endless]):
            pass
    assert raised.value.status == 429
    assert sorted(log) == ["endless closed", "failing closed"]  # the other turn was stopped, not left running


async def test_a_client_that_leaves_stops_every_choice():
    log: list[str] = []
    streams = [
        scripted(*[x for _ in range(50) for x in (TextDelta("z"), 0.01)], log=log, name=str(i)) for i in range(3)
    ]
    merge = merged(streams)
    await merge.__anext__()
    await merge.aclose()
    assert sorted(log) == ["0 closed", "1 closed", "2 closed"]


async def test_one_choice_is_index_zero_and_closed_with_its_reader():
    log: list[str] = []
    one = indexed(scripted(TextDelta("only"), 0.05, Finish("stop"), log=log, name="one"))
    assert await one.__anext__() == (0, TextDelta("only"))
    await one.aclose()
    assert log == ["one closed"]
