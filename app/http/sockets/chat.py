"""The chat WebSocket (`/v1/chat/ws`): Chat Completions turn by turn over one socket.

Each turn the client sends a Chat Completions request body as one JSON message; it gets back the
`chat.completion.chunk` objects the SSE stream carries, one per message, the last the chunk with a
`finish_reason` (then the usage chunk, with `stream_options.include_usage`). `stream` is implicit.

The socket keeps one gateway session for its whole life, so a later turn sends only its new
messages: the session named by the handshake's X-Session-Id header, else one the socket makes up
(`ws-...`), named in the handshake answer's X-Session-Id header and ended when the socket closes.
A named session outlives the socket, as any named session does.

`{"type": "cancel"}` stops the running turn at once: its events are closed, the CLI's turn is
stopped as for an HTTP client that leaves, and the client receives one error message with code
`cancelled`; the session is as it was before that turn. A cancel with no turn running is ignored
(the turn had finished: its last chunk is on its way). A request while a turn runs is refused
(`turn_in_progress`) and the running turn goes on. Every refusal is one message in the OpenAI error
envelope, and the socket stays open; closing it stops the running turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from starlette.websockets import WebSocket

from ...core.errors import GatewayError, invalid_request
from ...core.events import Finish
from ...doors import chat
from ...doors.checks import session_id
from ...doors.fanout import Indexed
from ...doors.gateway import Gateway
from ..respond import refuse, stream_frames
from .connection import TurnSocket, accept, first_of, payloads, unexpected

log = logging.getLogger(__name__)


async def serve(websocket: WebSocket, gateway: Gateway) -> None:
    try:
        named = session_id(websocket, None)
    except GatewayError as error:
        await refuse(websocket.scope, websocket.receive, websocket.send, error)
        return
    name = named or f"ws-{uuid.uuid4().hex}"
    socket = await accept(websocket, gateway, GatewayError.openai_body, {"X-Session-Id": name})
    if socket is None:
        return
    latest: ChatTurn | None = None
    turns: set[asyncio.Task[bool]] = set()  # those not yet done (an answered one may still close)
    try:
        async for message, _ in socket.messages():
            busy = latest is not None and latest.busy
            if isinstance(message, GatewayError):
                await socket.send_json(message.openai_body())
            elif message.get("type") == "cancel":
                if latest is not None and busy:
                    latest.task.cancel()
                    await asyncio.wait({latest.task})
                    if latest.task.cancelled():
                        await socket.send_json(cancelled().openai_body())
            elif "type" in message:
                kind = str(message["type"])[:100]
                refusal = invalid_request(
                    f'Unsupported message type \'{kind}\': send a chat completions request, or {{"type": "cancel"}}.',
                    "type",
                    "unknown_event",
                )
                await socket.send_json(refusal.openai_body())
            elif busy:
                refusal = GatewayError(
                    409,
                    'A turn is running on this socket: wait for its last chunk, or send {"type": "cancel"}.',
                    "invalid_request_error",
                    "turn_in_progress",
                )
                await socket.send_json(refusal.openai_body())
            else:
                latest = ChatTurn(socket, message, name)
                turns.add(latest.task)
                latest.task.add_done_callback(turns.discard)
    finally:
        socket.release()  # first: a wait cancelled below (the server stopping) must not keep it counted
        for task in list(turns):
            task.cancel()  # the client left: the turn stops, and with it the CLI's turn
        if turns:
            await asyncio.wait(turns)
        if named is None:
            await _end(socket, name)


class ChatTurn:
    """One turn on the socket. It is answered once its last chunk (or its error) is on its way: the
    client may then send the next turn, although this one may still be closing (the session's lock
    lets the next wait for it)."""

    def __init__(self, socket: TurnSocket, message: dict[str, Any], name: str) -> None:
        self.socket, self.answered = socket, False
        self.task = asyncio.create_task(socket.run_turn(self._complete(message, name)))
        self.task.add_done_callback(_retrieved)

    @property
    def busy(self) -> bool:
        return not self.answered and not self.task.done()

    async def _complete(self, message: dict[str, Any], name: str) -> None:
        """The turn's chunks, or the error that refuses it."""
        socket, gateway = self.socket, self.socket.gateway
        try:
            tenant = await socket.admit()
            body, _ = await chat.REQUESTS.checked(message, socket.websocket, gateway, tenant)
            if body.session_id is not None and body.session_id != name:
                raise invalid_request(
                    f"This socket's session is '{name}': leave out session_id, or name another session in "
                    "the X-Session-Id header of a new socket.",
                    "session_id",
                )
            started = chat.begin(gateway, body, tenant, socket.credential, name)
            events = self._watched(started.events())
            first = await first_of(events)
        except GatewayError as error:
            self.answered = True
            await socket.send_json(error.openai_body())
            return
        except Exception:
            log.exception("a turn on the chat socket failed to start")
            self.answered = True
            await socket.send_json(unexpected().openai_body())
            return
        async with aclosing(stream_frames(started.frames(), first, events)) as frames:
            async for frame in frames:
                for text in payloads(frame):
                    await socket.send_text(text)

    async def _watched(self, events: AsyncGenerator[Indexed, None]) -> AsyncGenerator[Indexed, None]:
        """The turn's events; the turn counts as answered from its Finish (or its failure) on."""
        try:
            async for item in events:
                if isinstance(item[1], Finish):
                    self.answered = True
                yield item
        except Exception:
            self.answered = True  # its error message is on its way
            raise
        finally:
            await events.aclose()


async def _end(socket: TurnSocket, name: str) -> None:
    """The session the socket made up, ended with it: the socket was its one user."""
    try:
        await socket.gateway.sessions.delete(socket.tenant.id, name)
    except GatewayError:
        pass  # it never served a turn
    except Exception:
        log.exception("ending the chat socket's session failed")
    await asyncio.to_thread(socket.gateway.workspaces.remove, socket.tenant.id, name)


def _retrieved(turn: asyncio.Task[bool]) -> None:
    """A turn that failed sending (its client gone) or was cut: nothing to answer, nothing to raise."""
    if not turn.cancelled() and turn.exception() is not None:
        log.debug("a turn on the chat socket ended in an error", exc_info=turn.exception())


def cancelled() -> GatewayError:
    return GatewayError(
        499,
        "The turn was cancelled; the session is as it was before it.",
        "invalid_request_error",
        "cancelled",
    )
