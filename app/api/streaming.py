"""Serving a turn's events over HTTP, for every front door: JSON or SSE, the real status when the
turn fails before its first event, an error frame after it, and the turn stopped when the client
leaves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..errors import GatewayError

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")


class Frames(Protocol[Item]):  # type: ignore[misc]
    """How one API writes a stream: frames to open, one item's frames, frames to close, an error."""

    def opening(self) -> list[str]: ...

    def frames(self, item: Item) -> list[str]: ...

    def closing(self) -> list[str]: ...

    def failure(self, error: GatewayError) -> list[str]: ...


async def respond(
    request: Request,
    events: AsyncIterator[Item],
    stream: bool,
    whole: Callable[[list[Item]], dict[str, Any]],
    frames: Frames[Item],
    headers: Callable[[], dict[str, str]],
) -> Response:
    """The turn as one JSON body, or as a stream of `frames`."""
    try:
        if not stream:
            collected = await unless_disconnected(request, _collect(events))
            return JSONResponse(whole(collected), headers=headers())
        # Wait for the first event before answering, so a failure that comes first (bad credential,
        # rate limit) gets its real HTTP status instead of a 200 stream that carries an error.
        first: list[Item] = [await unless_disconnected(request, events.__anext__())]
    except ClientDisconnected:
        await events.aclose()
        return Response(status_code=499)
    except StopAsyncIteration:
        first = []
    except BaseException:
        await events.aclose()
        raise
    return StreamingResponse(
        _sse(frames, first, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers()},
    )


async def _collect(events: AsyncIterator[Item]) -> list[Item]:
    return [item async for item in events]


async def _sse(frames: Frames[Item], first: list[Item], events: AsyncIterator[Item]) -> AsyncIterator[str]:
    try:
        for frame in frames.opening():
            yield frame
        for item in first:
            for frame in frames.frames(item):
                yield frame
        async for item in events:
            for frame in frames.frames(item):
                yield frame
        closing = frames.closing()
    except GatewayError as error:
        closing = frames.failure(error)
    except Exception:
        log.exception("turn failed while streaming")
        closing = frames.failure(
            GatewayError(500, "The gateway failed while streaming.", "server_error", "internal_error")
        )
    finally:
        await events.aclose()
    for frame in closing:
        yield frame


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
