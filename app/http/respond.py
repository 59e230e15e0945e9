"""Answering over HTTP, for every front door: a turn's events as one JSON body or as an SSE stream,
and errors in the door's own envelope.

A stream waits for the turn's first event before it answers, so that a failure that comes first
(a bad credential, a rate limit) gets its real HTTP status instead of a 200 stream that carries an
error; a failure after that can only be the stream's last frame. A client that leaves stops the
turn: until the answer (or its first event) is there, a watcher listens for the disconnect; once
streaming, Starlette ends the stream when the client goes, and the events are closed with it. Frames
that are ready together go out in one write (coalesce.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from ..core.errors import GatewayError
from .coalesce import coalesced

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Item_contra = TypeVar("Item_contra", contravariant=True)


class Frames(Protocol[Item_contra]):
    """How one API writes a stream: frames to open, one item's frames, frames to close, an error."""

    def opening(self) -> list[str]: ...

    def frames(self, item: Item_contra) -> list[str]: ...

    def closing(self) -> list[str]: ...

    def failure(self, error: GatewayError) -> list[str]: ...


class Started(Protocol[Item]):
    """A door's turn under way (app/doors/chat.py, messages.py, responses.py): its events, and how
    they are rendered whole, as a stream, and in the answer's headers."""

    def events(self) -> AsyncGenerator[Item, None]: ...

    def whole(self, items: list[Item]) -> dict[str, Any]: ...

    def frames(self) -> Frames[Item]: ...

    def headers(self, ignored: list[str]) -> dict[str, str]: ...


def error_response(path: str, error: GatewayError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The error in the envelope of the API that was called (the request's `headers` tell which)."""
    body = error.anthropic_body() if anthropic_shaped(path, headers) else error.openai_body()
    return JSONResponse(body, status_code=error.status, headers=error.headers)


ANTHROPIC_PREFIXES = ("/v1/messages", "/v1/organizations")


def anthropic_shaped(path: str, headers: Mapping[str, str] | None) -> bool:
    """Anthropic's envelope on its own doors (/v1/messages and its Admin-API style reports,
    /v1/organizations, and below them: whole segments only, /v1/messagesx is no door of Anthropic's);
    on /v1/files, which both APIs have, when the caller is an Anthropic client (it always sends
    `anthropic-version`)."""
    if any(_under(path, prefix) for prefix in ANTHROPIC_PREFIXES):
        return True
    return headers is not None and _under(path, "/v1/files") and "anthropic-version" in headers


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def refuse(scope: Scope, receive: Receive, send: Send, error: GatewayError) -> None:
    """A request refused before any route runs: an HTTP request gets the error as its answer, and so
    does a WebSocket handshake where the server can answer one over HTTP (uvicorn and Starlette's
    TestClient can: the ASGI denial-response extension); elsewhere the handshake is closed with
    1013 (try again later) for a 503, else 1008 (policy violation)."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        code = 1013 if error.status == 503 else 1008
        reason = error.message.encode()[:120].decode(errors="ignore")  # a close reason: 123 bytes at most
        await send({"type": "websocket.close", "code": code, "reason": reason})
        return
    await error_response(scope["path"], error, Headers(scope=scope))(scope, receive, send)


async def answer(
    request: Request,
    started: Started[Item],
    stream: bool,
    ignored: list[str],
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Response:
    """A door's turn answered over HTTP (`respond`); `ignored`: the request's parameters that were
    not applied, named in the answer's headers."""
    return await respond(
        request,
        started.events(),
        stream,
        whole=started.whole,
        frames=started.frames(),
        headers=lambda: started.headers(ignored),
        settle=settle,
    )


async def respond(
    request: Request,
    events: AsyncGenerator[Item, None],
    stream: bool,
    whole: Callable[[list[Item]], dict[str, Any]],
    frames: Frames[Item],
    headers: Callable[[], dict[str, str]],
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Response:
    """The turn as one JSON body, or as a stream of `frames`. `settle`, if given, is awaited after
    each event is rendered and before it goes out (what rendering it started must land first)."""
    try:
        if not stream:
            collected = await unless_disconnected(request, _collect(events))
            body = whole(collected)
            if settle is not None:
                await settle()
            return JSONResponse(body, headers=headers())
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
        coalesced(stream_frames(frames, first, events, settle)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers()},
    )


async def _collect(events: AsyncIterator[Item]) -> list[Item]:
    return [item async for item in events]


async def stream_frames(
    frames: Frames[Item],
    first: list[Item],
    events: AsyncGenerator[Item, None],
    settle: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[str, None]:
    """The stream's frames, from its opening to its closing (or its failure); the events are
    closed with it. The WebSocket doors send the same frames (app/http/sockets/)."""
    try:
        for frame in frames.opening():
            yield frame
        for item in first:
            for frame in await _rendered(frames, item, settle):
                yield frame
        async for item in events:
            for frame in await _rendered(frames, item, settle):
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


async def _rendered(frames: Frames[Item], item: Item, settle: Callable[[], Awaitable[None]] | None) -> list[str]:
    rendered = frames.frames(item)
    if settle is not None:
        await settle()
    return rendered


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
