"""Turn requests during a drain: refused with 503 and Retry-After in the door's own envelope, so
that the client retries elsewhere (another replica behind the load balancer, or this gateway once
it is back); tracked while they run, so that the drain knows when the last one has finished, and
can cut those still running when its time is up.

Only the three doors start turns; everything else (models, sessions, files, usage, probes) keeps
answering while the listener is open. Why the listener stays open during a drain: app/http/server.py.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from ...core.errors import GatewayError
from ...doors.gateway import Gateway
from ..respond import error_response, refuse

TURN_DOORS = frozenset({"/v1/chat/completions", "/v1/messages", "/v1/responses"})
SOCKET_DOORS = frozenset({"/v1/responses", "/v1/chat/ws"})  # their turns are tracked by app/http/sockets/
RETRY_AFTER = 5  # seconds: long enough for a load balancer to see the failed readiness probe


class DrainGuard:
    """Tracks the turn requests in flight (a stream until its last byte is sent) and refuses new
    ones once the gateway drains."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] in SOCKET_DOORS and self.gateway.traffic.draining:
            await refuse(scope, receive, send, draining())
            return
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in TURN_DOORS:
            await self.app(scope, receive, send)
            return
        if self.gateway.traffic.draining:
            await error_response(scope["path"], draining())(scope, receive, send)
            return
        # Its own task, so that the drain can cancel the turn without cancelling the server's
        # request task (which would end in a traceback in uvicorn's log).
        turn = asyncio.ensure_future(self.app(scope, receive, send))
        self.gateway.traffic.turns.add(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn not in self.gateway.traffic.cut:
                raise
            # Cut by the drain: the turn has ended as if its client had left (the engine's own
            # clean-up ran on the way out); the server closes the connection mid-answer.
        finally:
            self.gateway.traffic.turns.discard(turn)
            self.gateway.traffic.cut.discard(turn)


def cut_turns(gateway: Gateway) -> int:
    """End every turn still in flight (the drain's time is up); how many there were."""
    for task in gateway.traffic.turns:
        gateway.traffic.cut.add(task)
        task.cancel()
    return len(gateway.traffic.turns)


def draining() -> GatewayError:
    return GatewayError(
        503,
        "This gateway is shutting down and takes no new requests; retry shortly.",
        "server_error",
        "gateway_draining",
        headers={"Retry-After": str(RETRY_AFTER)},
    )
