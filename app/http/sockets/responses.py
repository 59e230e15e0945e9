"""The OpenAI Responses API over a WebSocket (`GET /v1/responses` upgraded): what the Agents SDK's
`OpenAIResponsesWSModel` and the openai client's `responses.connect()` open at
`<base_url>/responses` with the http(s) scheme turned into ws(s).

One socket carries many `response.create` messages, each the body of `POST /v1/responses` with
`type` (and `stream`, implicit here) added. Each is answered with exactly the events the SSE
stream sends, one per message, from `response.created` to `response.completed` (or
`response.incomplete` / `response.failed`); `previous_response_id` chains as over HTTP, function
call outputs included; the socket's last response can be continued even with `store: false` (it
keeps that one in memory, as the reference's WebSocket mode does). Requests are served one at a
time in the order they came (FIFO: the reference's rule for one `stream_id` lane; lanes do not
run side by side here), at most MAX_QUEUED waiting, and GATEWAY_WS_MAX_QUEUED_BYTES of them (their
text as sent is queued, not its parsed objects, which can be many times larger: two sockets with
16 queued 10 MB messages each once took the gateway from 119 to 613 MB). A request refused before its response starts
(bad body, 401, 429, a `previous_response_id` not found) is answered with one `error` event:
`{"type": "error", "status": 400, "error": {"type", "code", "message", "param"}}`; the socket
stays open for the next. A message echoes its request's `stream_id`, if it had one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing
from typing import Any

from starlette.websockets import WebSocket

from ...core.errors import GatewayError, invalid_request
from ...core.jsontext import loads
from ...doors import responses
from ...doors.gateway import Gateway
from ...doors.responses import Remembered
from ..respond import stream_frames
from .connection import INTERNAL_ERROR, TurnSocket, accept, first_of, payloads, unexpected

log = logging.getLogger(__name__)

MAX_QUEUED = 16  # response.create messages waiting behind the running one
ENVELOPE = ("type", "stream", "stream_id")  # the socket's fields, not the request's


class Memory:
    """A socket's last response, stored or not (store=false), so that the next can continue it."""

    last: Remembered | None = None

    def remember(self, response: Remembered) -> None:
        self.last = response


class Waiting:
    """The messages queued behind the running response, as sent, and their bytes."""

    def __init__(self, most_bytes: int) -> None:
        self.queue: asyncio.Queue[str | bytes] = asyncio.Queue(MAX_QUEUED)
        self.bytes, self.most_bytes = 0, most_bytes

    def full(self) -> GatewayError | None:
        if self.queue.full():
            message = f"{MAX_QUEUED} responses are already waiting on this socket; wait for one to finish."
            return GatewayError(429, message, "rate_limit_error", "too_many_queued_responses")
        return None

    def put(self, text: str | bytes) -> GatewayError | None:
        """Queue `text`, or the error that refuses it: past the socket's bytes."""
        if self.bytes and self.bytes + len(text) > self.most_bytes:
            message = (
                f"The responses waiting on this socket already take {self.bytes} bytes; this one would pass "
                f"{self.most_bytes} (GATEWAY_WS_MAX_QUEUED_BYTES). Wait for one to finish."
            )
            return GatewayError(429, message, "rate_limit_error", "too_many_queued_bytes")
        self.bytes += len(text)
        self.queue.put_nowait(text)
        return None

    async def get(self) -> dict[str, Any]:
        text = await self.queue.get()
        self.bytes -= len(text)
        value: dict[str, Any] = loads(text)  # an object: checked as it came
        return value


async def serve(websocket: WebSocket, gateway: Gateway) -> None:
    socket = await accept(websocket, gateway, error_event)
    if socket is None:
        return
    waiting = Waiting(gateway.settings.ws_max_queued_bytes)
    worker = asyncio.create_task(_work(socket, waiting, Memory()))
    try:
        async for message, text in socket.messages():
            if isinstance(message, GatewayError):
                await socket.send_json(error_event(message))
            elif message.get("type") != "response.create":
                kind = str(message.get("type"))[:100]
                error = invalid_request(
                    f"Unsupported event type '{kind}': this gateway accepts 'response.create'.", "type", "unknown_event"
                )
                await socket.send_json(error_event(error, message.get("stream_id")))
            elif not worker.done():
                refused = waiting.full() or waiting.put(text)
                if refused is not None:
                    await socket.send_json(error_event(refused, message.get("stream_id")))
    finally:
        socket.release()  # first: a wait cancelled below (the server stopping) must not keep it counted
        worker.cancel()  # the client left: its running response stops, and with it the CLI's turn
        await asyncio.wait({worker})


async def _work(socket: TurnSocket, waiting: Waiting, memory: Memory) -> None:
    while True:
        message = await waiting.get()
        try:
            if not await socket.run_turn(_respond(socket, message, memory)):
                return  # cut by the drain: the socket is closed
        except Exception:  # sending failed (the client is gone), or the gateway's own bug
            log.debug("a response on a socket ended in an error", exc_info=True)
            await socket.close(INTERNAL_ERROR)
            return


async def _respond(socket: TurnSocket, message: dict[str, Any], memory: Memory) -> None:
    """One response.create: its events, or the error event that refuses it."""
    stream_id = message.get("stream_id")
    lane = str(stream_id) if stream_id is not None else None
    gateway = socket.gateway
    try:
        tenant = await socket.admit()
        body, _ = await responses.REQUESTS.checked(_request(message), socket.websocket, gateway, tenant)
        started = await responses.begin(gateway, body, tenant, socket.credential, memory.last, memory.remember)
        events = started.events()
        first = await first_of(events)
    except GatewayError as error:
        await socket.send_json(error_event(error, lane))
        return
    except Exception:
        log.exception("a response on a socket failed to start")
        await socket.send_json(error_event(unexpected(), lane))
        return
    settle = gateway.responses.flush if gateway.redis is not None else None
    async with aclosing(stream_frames(started.frames(), first, events, settle)) as frames:
        async for frame in frames:
            for text in payloads(frame):
                await socket.send_text(text if lane is None else _in_lane(text, lane))


def _request(message: dict[str, Any]) -> dict[str, Any]:
    """The POST /v1/responses body in a response.create message; what the socket cannot do refused."""
    if message.get("background"):
        raise invalid_request("background is not supported over WebSocket.", "background", "unsupported_parameter")
    if message.get("generate") is False:
        raise invalid_request(
            "generate: false (a warm-up without an answer) is not supported by this gateway.",
            "generate",
            "unsupported_parameter",
        )
    return {k: v for k, v in message.items() if k not in ENVELOPE and k != "generate"}


def _in_lane(text: str, lane: str) -> str:
    payload = json.loads(text)
    payload["stream_id"] = lane
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def error_event(error: GatewayError, stream_id: Any = None) -> dict[str, Any]:
    """A refused request, as the Responses WebSocket reports it (the openai client's ResponseWsError):
    the HTTP status it would have had, and the error's fields (with headers such as Retry-After)."""
    details: dict[str, Any] = {**error.openai_body()["error"]}
    if error.headers:
        details["headers"] = error.headers
    event: dict[str, Any] = {"type": "error", "status": error.status, "error": details}
    if stream_id is not None:
        event["stream_id"] = str(stream_id)
    return event
