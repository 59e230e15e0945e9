"""Serving a turn's events over HTTP, for every front door: JSON or SSE, the real status when the
turn fails before its first event, an error frame after it, and the turn stopped when the client
leaves. Also the request checks the front doors share."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..engine.types import Event
from ..errors import GatewayError, invalid_request
from ..protocol.base import SESSION_ID_PATTERN
from ..translate.common import unsupported_parameter

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Indexed = tuple[int, Event]
MAX_IGNORED_HEADER = 1024  # characters of parameter names in X-Gateway-Ignored-Params


class Frames(Protocol[Item]):  # type: ignore[misc]
    """How one API writes a stream: frames to open, one item's frames, frames to close, an error."""

    def opening(self) -> list[str]: ...

    def frames(self, item: Item) -> list[str]: ...

    def closing(self) -> list[str]: ...

    def failure(self, error: GatewayError) -> list[str]: ...


def refuse_if_strict(request: Request, strict_setting: bool, ignored: list[str]) -> None:
    """Strict mode (server-wide, or X-Gateway-Strict per request) refuses what would be ignored."""
    header = request.headers.get("x-gateway-strict", "").lower()
    strict = header in ("1", "true", "yes") or (strict_setting and header not in ("0", "false", "no"))
    if ignored and strict:
        raise unsupported_parameter(ignored[0])


def session_id(request: Request, from_body: str | None) -> str | None:
    """The session a request names: its body field, else the X-Session-Id header."""
    value = from_body or request.headers.get("x-session-id")
    if from_body is None and value is not None and not re.fullmatch(SESSION_ID_PATTERN, value):
        raise invalid_request(
            "X-Session-Id must be 1-128 letters, digits or ._:- characters.", "X-Session-Id", "invalid_value"
        )
    return value


def turn_headers(id_header: str, request_id: str, session: str | None, ignored: list[str]) -> dict[str, str]:
    """The headers every front door answers with: its request id, the session, what was ignored."""
    headers = {id_header: request_id}
    if session:
        headers["X-Session-Id"] = session  # validated against SESSION_ID_PATTERN
    if ignored:
        headers["X-Gateway-Ignored-Params"] = ignored_header(ignored)
    return headers


def ignored_header(names: list[str]) -> str:
    """The ignored parameters' names, safe as a header value.

    The names of unknown fields are the client's: they may hold CR/LF or NUL (which would end the
    response, or let the client write headers of its own) or text outside latin-1 (which cannot be
    sent at all), and there may be thousands. So each name is percent-encoded, and the list stops
    at about 1 KB with a count of the rest.
    """
    shown: list[str] = []
    size = 0
    for name in names:
        encoded = quote(name, safe="[]", errors="replace")
        if size + len(encoded) > MAX_IGNORED_HEADER:
            break
        shown.append(encoded)
        size += len(encoded) + 1
    rest = len(names) - len(shown)
    return ",".join(shown + ([f"...({rest} more)"] if rest else []))


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
        ended: Event | BaseException | None = None
        try:
            async with aclosing(events):
                async for event in events:
                    queue.put_nowait((index, event))
        except BaseException as exc:  # a cancelled start included: the merge must still hear of it
            ended = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            queue.put_nowait((index, ended))

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


def by_choice(items: list[Indexed], n: int) -> list[list[Event]]:
    choices: list[list[Event]] = [[] for _ in range(n)]
    for index, event in items:
        choices[index].append(event)
    return choices
