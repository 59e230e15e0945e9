"""A stream's frames, those that are ready together written at once.

Each write to the client's socket is a system call that costs far more than making a frame (on a
loaded 2-core machine, about a tenth of a millisecond), and a fast answer's deltas come in bursts:
the SDK parses several of the CLI's lines from one read of its pipe. So the frames are made by a
task of their own, and the writer takes everything made so far in one write. It gathers only while
frames keep coming without a wait (one event-loop turn per look), so a delta that arrives alone
goes out at once, as before; and it never holds more than MOST frames, so a slow client still slows
the turn down instead of filling the gateway's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

MOST = 256  # frames in one write, at most; the maker waits while that many are waiting


async def coalesced(frames: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
    """The frames, joined into one string per write; the maker's failure is raised after its frames."""
    made: list[str] = []
    ready = asyncio.Event()  # frames are waiting, or the maker is done
    room = asyncio.Event()  # fewer than MOST are waiting
    room.set()

    async def make() -> None:
        try:
            async with aclosing(frames):  # closed here, in the task that reads it, however it ends
                async for frame in frames:
                    made.append(frame)
                    ready.set()
                    if len(made) >= MOST:
                        room.clear()
                        await room.wait()
        finally:
            ready.set()

    maker = asyncio.ensure_future(make())
    try:
        while True:
            if not made and not maker.done():
                ready.clear()
                await ready.wait()
            while not maker.done() and 0 < len(made) < MOST:  # more on its way without a wait?
                count = len(made)
                await asyncio.sleep(0)
                if len(made) == count:
                    break
            if made:
                batch = "".join(made)
                made.clear()
                room.set()
                yield batch
            elif maker.done():
                break
        maker.result()
    finally:
        if not maker.done():
            maker.cancel()
            await asyncio.wait({maker})
