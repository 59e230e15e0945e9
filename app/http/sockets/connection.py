"""What the two WebSocket doors share: the handshake authenticated as an HTTP request is, the
checks every turn on the socket passes again, messages read within the body limit, and turns run
as tasks the drain can see.

A socket lives long (an agent's whole run), so the checks of an HTTP request are not made once at
the handshake but for every turn, as HTTP makes them for every request: a key revoked, a budget
spent or a drain begun since the socket opened refuses the next turn. The key, the caller's own
Claude credential (X-Claude-Credential) and strict mode (X-Gateway-Strict) are the handshake's
headers, as they are a request's.

One key holds at most GATEWAY_WS_MAX_SOCKETS_PER_KEY sockets open on a replica: past it, the
socket is accepted, answered with the OpenAI error `websocket_connection_limit_reached` (the code
Codex CLI knows) and closed (1008), so that one key cannot hold the gateway's memory through many
sockets. Each message is read whole (uvicorn reads no further until the app takes it, so that
is all a socket buffers) within the body limit; a door bounds what it queues (responses.py).

A turn runs in a task of its own, registered with the drain (app/http/middleware/drain.py) as an HTTP turn
is: the drain waits for it, and cuts it when its time is up. A client that leaves (or cancels)
cancels that task, which closes the turn's events: the engine stops the CLI's turn exactly as it
does for an HTTP client that disconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from ...core.bodies import body_too_large
from ...core.credentials import Credential
from ...core.errors import GatewayError, invalid_request
from ...core.jsontext import InvalidJSON, loads
from ...doors.gateway import Gateway
from ...tenancy.auth import Tenant
from ..deps import authenticate, authenticate_turn, caller_credential
from ..middleware.drain import draining
from ..respond import refuse

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE_RESTART = 1012  # the close code of a socket whose turn the drain cut
INTERNAL_ERROR = 1011
POLICY_VIOLATION = 1008  # the close code of a socket past its key's limit
Received = tuple["dict[str, Any] | GatewayError", "str | bytes"]  # a message (or its refusal), as sent


def unexpected() -> GatewayError:
    return GatewayError(500, "The gateway failed unexpectedly.", "server_error", "internal_error")


class TurnSocket:
    """An accepted socket, the caller it authenticated, and how it sends (one message at a time)."""

    def __init__(self, websocket: WebSocket, gateway: Gateway, tenant: Tenant) -> None:
        self.websocket, self.gateway, self.tenant = websocket, gateway, tenant
        self.credential: Credential | None = None
        self._sending = asyncio.Lock()  # the reader's error answers and a turn's events interleave
        self._counted: str | None = None  # the tenant whose open sockets count this one

    def count(self) -> bool:
        """Count this socket among its key's open ones: False if the key already holds its limit."""
        open_sockets, tenant = self.gateway.sockets, self.tenant.id
        if open_sockets.get(tenant, 0) >= self.gateway.settings.ws_max_sockets_per_key:
            return False
        open_sockets[tenant] = open_sockets.get(tenant, 0) + 1
        self._counted = tenant
        return True

    def release(self) -> None:
        """The socket is done: no longer one of its key's open ones (once)."""
        tenant, self._counted = self._counted, None
        if tenant is not None:
            left = self.gateway.sockets.get(tenant, 1) - 1
            if left > 0:
                self.gateway.sockets[tenant] = left
            else:
                self.gateway.sockets.pop(tenant, None)

    async def admit(self) -> Tenant:
        """The checks an HTTP turn passes, made again for this turn: not draining, the key still
        valid, its rpm and budget, the caller's credential. Raises GatewayError."""
        if self.gateway.traffic.draining:
            raise draining()
        self.tenant = await authenticate(self.websocket, self.gateway)
        await authenticate_turn(self.websocket, self.gateway, self.tenant)
        self.credential = await caller_credential(self.websocket, self.gateway, self.tenant)
        return self.tenant

    async def send_text(self, text: str) -> None:
        async with self._sending:
            await self.websocket.send_text(text)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))

    async def messages(self) -> AsyncIterator[Received]:
        """Each message the client sends, as a JSON object, or the error that answers it (not JSON,
        not an object, over GATEWAY_MAX_BODY_BYTES), with its text as sent: a bad message does not
        end the socket. Ends when the client leaves."""
        limit = self.gateway.settings.max_body_bytes
        while True:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):  # RuntimeError: closed by us meanwhile
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            if len(data) > limit:  # characters or bytes: a text over the limit in bytes is close
                yield body_too_large(limit), b""
                continue
            try:
                value = loads(data)
            except InvalidJSON as exc:
                yield invalid_request(f"The message is not valid JSON: {exc}.", code="invalid_json"), b""
                continue
            if not isinstance(value, dict):
                yield invalid_request("A message must be a JSON object.", code="invalid_json"), b""
                continue
            yield value, data

    async def run_turn(self, work: Coroutine[Any, Any, None]) -> bool:
        """`work` (one turn) in a task the drain tracks; False if the drain cut it (the socket is
        then closed with 1012, service restart). Cancelling the caller cancels the turn and waits
        for it to unwind."""
        turn = asyncio.ensure_future(work)
        self.gateway.traffic.turns.add(turn)
        try:
            await asyncio.wait({turn})
        finally:
            if not turn.done():
                turn.cancel()
                await asyncio.wait({turn})
            if not turn.cancelled() and turn.exception() is not None:
                # Retrieved here: if this task is being cancelled (the client left), the turn's own
                # error (a send to the gone client) is not raised below, and asyncio would log it.
                log.debug("a socket's turn ended in an error", exc_info=turn.exception())
            self.gateway.traffic.turns.discard(turn)
            cut = turn in self.gateway.traffic.cut
            self.gateway.traffic.cut.discard(turn)
        if turn.cancelled():
            if cut:
                await self.close(SERVICE_RESTART)
                return False
            raise asyncio.CancelledError()
        error = turn.exception()
        if error is not None:
            raise error
        return True

    async def close(self, code: int = 1000) -> None:
        try:
            await self.websocket.close(code)
        except (RuntimeError, WebSocketDisconnect):  # closed already
            pass


async def accept(
    websocket: WebSocket,
    gateway: Gateway,
    shaped: Callable[[GatewayError], dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> TurnSocket | None:
    """The socket accepted for its caller, counted among its key's open ones (the caller releases
    it), or None: the handshake refused as HTTP refuses a request without a valid key (401 in the
    OpenAI envelope; 403 for a bad X-Claude-Credential), or the socket closed past the key's
    limit, after one message with the error in the door's shape (`shaped`)."""
    try:
        tenant = await authenticate(websocket, gateway)
        socket = TurnSocket(websocket, gateway, tenant)
        socket.credential = await caller_credential(websocket, gateway, tenant)
    except GatewayError as error:
        await refuse(websocket.scope, websocket.receive, websocket.send, error)
        return None
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await websocket.accept(headers=extra)
    if not socket.count():
        await socket.send_json(shaped(too_many_sockets(gateway.settings.ws_max_sockets_per_key)))
        await socket.close(POLICY_VIOLATION)
        return None
    return socket


def too_many_sockets(limit: int) -> GatewayError:
    """OpenAI's error for a socket refused (its code is the one Codex CLI knows)."""
    return GatewayError(
        429,
        f"This key already holds {limit} WebSockets open on this gateway (GATEWAY_WS_MAX_SOCKETS_PER_KEY); "
        "close one, or use HTTP.",
        "invalid_request_error",
        "websocket_connection_limit_reached",
    )


def payloads(frame: str) -> list[str]:
    """The JSON texts of an SSE frame (`event:` lines and `[DONE]` dropped): what a WebSocket sends
    one per message."""
    found = []
    for line in frame.split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            found.append(line[6:])
    return found


async def first_of(events: AsyncGenerator[T, None]) -> list[T]:
    """A turn's first event ([] if it has none), awaited before anything is sent, so that a turn
    refused at its start is one error message; the events are closed if it fails."""
    try:
        return [await events.__anext__()]
    except StopAsyncIteration:
        return []
    except BaseException:
        await events.aclose()
        raise
