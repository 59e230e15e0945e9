"""A stream's frames that are ready together go out in one write; one that comes alone goes out
at once; a slow writer holds back the maker; the maker's end and failure reach the writer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from app.http.coalesce import MOST, coalesced


def run(scenario) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(scenario(), 10))  # a guard against a hang, not a timing check


def test_frames_ready_together_are_one_write():
    async def frames() -> AsyncGenerator[str, None]:
        for n in range(10):
            yield f"data: {n}\n\n"

    async def scenario() -> None:
        writes = [write async for write in coalesced(frames())]
        assert writes == ["".join(f"data: {n}\n\n" for n in range(10))]

    run(scenario)


def test_a_frame_that_comes_alone_goes_out_before_the_next_is_made():
    async def scenario() -> None:
        next_one = asyncio.Event()

        async def frames() -> AsyncGenerator[str, None]:
            yield "a"
            await next_one.wait()  # the next delta comes only once the first was written
            yield "b"

        stream = coalesced(frames())
        assert await stream.__anext__() == "a"
        next_one.set()
        assert [write async for write in stream] == ["b"]

    run(scenario)


def test_a_write_holds_at_most_MOST_frames_and_the_maker_waits_for_the_writer():
    made = 0

    async def frames() -> AsyncGenerator[str, None]:
        nonlocal made
        for _ in range(3 * MOST):
            made += 1
            yield "x"

    async def scenario() -> None:
        stream = coalesced(frames())
        first = await stream.__anext__()
        assert first == "x" * MOST
        assert made <= MOST + 1  # held back, not read to the end
        rest = [write async for write in stream]
        assert all(len(write) <= MOST for write in rest) and len(first) + sum(map(len, rest)) == 3 * MOST

    run(scenario)


def test_the_makers_failure_comes_after_its_frames():
    async def frames() -> AsyncGenerator[str, None]:
        yield "a"
        await asyncio.sleep(0)
        raise ValueError("broken")

    async def scenario() -> None:
        writes = []
        with pytest.raises(ValueError, match="broken"):
            async for write in coalesced(frames()):
                writes.append(write)
        assert writes == ["a"]

    run(scenario)


def test_closing_the_stream_early_closes_the_frames():
    closed = asyncio.Event()

    async def frames() -> AsyncGenerator[str, None]:
        try:
            yield "a"
            await asyncio.Event().wait()  # a turn that would go on
            yield "never"
        finally:
            closed.set()

    async def scenario() -> None:
        stream = coalesced(frames())
        assert await stream.__anext__() == "a"
        await stream.aclose()  # the client left
        assert closed.is_set()

    run(scenario)
