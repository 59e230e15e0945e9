"""Serving a turn's events over HTTP: stop when the client leaves, merge several choices, and
answer with the real status when the turn fails before its first event."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, TypeVar

from fastapi import Request

from ..engine.types import Event

T = TypeVar("T")
Indexed = tuple[int, Event]


class ClientDisconnected(Exception):
    pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (after the body was read)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # let the turn unwind before anyone touches its generator
    if task.cancelled():
        raise ClientDisconnected()
    return task.result()


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def indexed(events: AsyncIterator[Event]) -> AsyncIterator[Indexed]:
    """One choice's events, tagged with choice index 0."""
    try:
        async for event in events:
            yield 0, event
    finally:
        await events.aclose()


async def merged(streams: list[AsyncIterator[Event]]) -> AsyncIterator[Indexed]:
    """Several choices' events as they come, tagged with their choice index. The first failure
    ends them all."""
    queue: asyncio.Queue[tuple[int, Event | BaseException | None]] = asyncio.Queue()

    async def pump(index: int, events: AsyncIterator[Event]) -> None:
        try:
            async for event in events:
                await queue.put((index, event))
            await queue.put((index, None))
        except Exception as exc:
            await queue.put((index, exc))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


async def collect(events: AsyncIterator[Indexed], n: int) -> list[list[Event]]:
    choices: list[list[Event]] = [[] for _ in range(n)]
    async for index, event in events:
        choices[index].append(event)
    return choices
