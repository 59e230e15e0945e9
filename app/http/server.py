"""SIGTERM drains: the server this gateway runs under (main.py).

uvicorn's own SIGTERM handling closes the listener at once and then waits for open connections:
a client arriving during that wait gets a refused connection, and a load balancer that has not yet
seen the pod leave keeps sending it there. So a SIGTERM here first only marks the gateway as
draining, with the listener still open:

- new turns get 503 `gateway_draining` with Retry-After in the door's envelope (app/http/middleware/drain.py),
  and GET /health/ready answers 503, so that load balancers take this replica out;
- turns and streams in flight go on until they finish or GATEWAY_DRAIN_TIMEOUT has passed.

When the timeout has passed, the turns still running are cut as if their clients had left (their
clients see the connection close mid-answer). Then uvicorn's usual shutdown runs, with what is left
of the timeout as its grace for other requests: it closes the listener (new connections are
refused from here on), and the lifespan closes every Claude process (app/http/lifespan.py). The process
exits with status 0.

A second SIGTERM, or SIGINT (Ctrl-C), is uvicorn's own: shut down now.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import socket
from types import FrameType

import uvicorn

from ..doors.gateway import Gateway
from .middleware.drain import cut_turns

log = logging.getLogger(__name__)
POLL = 0.1  # seconds between looks at the turns in flight
CUT_GRACE = 5.0  # seconds for cut turns to end their CLI's turn; then uvicorn cancels what is left


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, gateway: Gateway) -> None:
        super().__init__(config)
        self.gateway = gateway
        self.loop: asyncio.AbstractEventLoop | None = None
        self.drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Runs in the main thread between two steps of the event loop: only flags and a callback."""
        if sig != signal.SIGTERM or self.gateway.traffic.draining or self.loop is None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self.gateway.traffic.draining = True  # from this instant on, no new turn starts
        self.loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self.drain_task = asyncio.ensure_future(self.drain())

    async def drain(self) -> None:
        gateway = self.gateway
        timeout = gateway.settings.drain_timeout
        log.warning("SIGTERM: draining; %d turn(s) in flight, up to %s s", len(gateway.traffic.turns), timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while gateway.traffic.turns and loop.time() < deadline:
            await asyncio.sleep(POLL)
        if gateway.traffic.turns:
            log.warning("drain timeout: cutting %d turn(s) still in flight", cut_turns(gateway))
            cut_deadline = loop.time() + CUT_GRACE
            while gateway.traffic.turns and loop.time() < cut_deadline:
                await asyncio.sleep(POLL)
        # What remains of the timeout is uvicorn's grace for the other open requests.
        self.config.timeout_graceful_shutdown = max(1, math.ceil(deadline - loop.time()))
        self.should_exit = True
