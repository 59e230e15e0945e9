"""What runs for as long as the app serves, and how it stops: the demo's upstream, the engine, the
background sweep, the replicas' session-end listener, the batch runner; at shutdown each closed in
turn, what is in flight kept for the next start (pending batch requests, stored responses flushed)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from ..doors.gateway import Gateway
from .wiring import Wired

log = logging.getLogger(__name__)


async def sweep(gateway: Gateway) -> None:
    """End expired sessions and close idle processes, forever (cancelled at shutdown). Each job
    runs whatever the others do: a store that is down (Redis) must not keep idle processes open."""
    settings = gateway.settings
    shortest = min(settings.session_ttl, settings.process_idle_timeout, settings.one_off_idle_timeout)
    interval = min(10.0, max(0.2, shortest / 4))  # a sweep takes microseconds

    async def registry() -> None:
        gateway.sessions.registry.expire()

    async def idle_processes() -> None:
        gateway.engine.close_idle_processes()

    async def workspaces() -> None:
        # The workspaces of sessions gone for a TTL (the live ones' folders: the lead's to pass).
        await asyncio.to_thread(gateway.workspaces.sweep, settings.session_ttl, set())

    jobs: tuple[Callable[[], Awaitable[object]], ...] = (
        registry,
        lambda: gateway.responses.expire(),
        lambda: gateway.files.expire(time.time()),
        idle_processes,
        workspaces,
    )
    while True:
        await asyncio.sleep(interval)
        for job in jobs:
            try:
                await job()
            except Exception:
                log.exception("sweep failed")


def lifespan(wired: Wired) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    gateway, demo = wired.gateway, wired.demo

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        if demo is not None:
            await asyncio.to_thread(demo.start)
        await gateway.engine.start()
        sweeper = asyncio.create_task(sweep(gateway))
        listener = asyncio.create_task(gateway.sessions.keeper.listen())  # what other replicas end (none without Redis)
        gateway.batches.start()  # resumes what a restart left unfinished
        try:
            yield
        finally:
            await gateway.batches.stop()  # what runs stays pending, for the next start
            gateway.batches.store.close()
            sweeper.cancel()
            listener.cancel()
            gateway.sessions.registry.end_all()
            await gateway.engine.close()
            await gateway.responses.flush()  # responses on their way to the store
            gateway.store.close()
            if gateway.redis is not None:
                await gateway.redis.close()
            if demo is not None:
                await asyncio.to_thread(demo.stop)

    return serving
