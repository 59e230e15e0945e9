"""create_app(settings, engine): routers, middleware, error handlers, lifespan.

All mutable state lives on one object, `app.state.gateway`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from ..agent.policy import gateway_policy, operator_servers
from ..batches import openai as openai_batches
from ..batches.redis import RedisBatchStore
from ..batches.runner import BatchRunner
from ..batches.sqlite import BatchStore
from ..core.disk.workdir import check_root
from ..core.errors import GatewayError, store_unavailable
from ..core.redis import Shared
from ..core.settings import Settings
from ..demo.mode import DemoHeader, enter_demo
from ..doors.gateway import Gateway
from ..engine.interface import Engine
from ..files import open_files
from ..observability.metrics import Metrics
from ..observability.requests import RequestLog, TurnNotes
from ..sessions import open_keeper
from ..sessions.credential_names import CredentialNames
from ..sessions.registry import SessionRegistry
from ..sessions.service import SessionService
from ..sessions.stored_responses import ResponseStore
from ..store import open_store
from ..tenancy.keys import KeyService
from ..workspaces.workspaces import Workspaces
from . import openapi
from .middleware.drain import DrainGuard
from .middleware.keyless import KeylessGuard
from .middleware.origins import OriginGuard
from .middleware.rate_headers import RateHeaders
from .respond import error_response
from .routes import (
    admin,
    admin_live,
    batches,
    chat,
    console,
    health,
    message_batches,
    messages,
    metrics,
    models,
    reports,
    responses,
    sessions,
    usage,
)
from .routes import files as uploads
from .routes import workspace_files as files
from .sockets import routes as sockets

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


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    check_root(settings.data_path, "GATEWAY_DATA_DIR")  # private to this user, or no start (workdir.py)
    demo = None
    if settings.demo and engine is None:  # before the engine: its processes read the demo's environment
        demo = enter_demo(settings.config_dir)
    shared = Shared.connect(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    if engine is None:
        from ..engine.claude import ClaudeEngine

        engine = ClaudeEngine(settings, shared)

    # Agent mode's own settings are read now: a bad one stops the start, never a request.
    gateway_policy(settings.agent_policy)
    operator_servers(settings.mcp_config)
    registry = SessionRegistry(
        settings.session_ttl, on_end=engine.end_conversation, max_per_tenant=settings.max_sessions_per_key
    )
    store = open_store(settings.data_path, shared, response_ttl=settings.session_ttl)
    stored = ResponseStore(
        settings.session_ttl, settings.max_stored_responses, settings.max_stored_response_bytes, store=store
    )
    workspaces = Workspaces(settings.data_path / "workspaces", settings.workspace_quota_mb)
    keeper = open_keeper(registry, shared, settings.session_ttl)
    names = CredentialNames(settings.secret_key, store)
    service = SessionService(
        registry,
        engine,
        settings.session_busy_wait,
        store,
        settings.busy_wait,
        workspaces,
        keeper,
        names,
        turn_timeout=settings.request_timeout,
    )
    uploaded = open_files(settings, store, shared)
    keys = KeyService(settings, store)
    gateway = Gateway(settings, engine, service, stored, store, keys, workspaces, uploaded, shared=shared)
    batch_store = RedisBatchStore(shared) if shared is not None else BatchStore(settings.data_path)
    gateway.batches = BatchRunner(gateway, batch_store)
    gateway.batches.finalizers[openai_batches.API] = partial(
        openai_batches.write_files, uploaded, gateway.batches.store
    )
    observed = Metrics(settings, engine, registry)
    service.ledger.observers += [observed.turn_ended, TurnNotes(observed)]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if demo is not None:
            await asyncio.to_thread(demo.start)
        await engine.start()
        sweeper = asyncio.create_task(sweep(gateway))
        listener = asyncio.create_task(keeper.listen())  # what other replicas end (none without Redis)
        gateway.batches.start()  # resumes what a restart left unfinished
        try:
            yield
        finally:
            await gateway.batches.stop()  # what runs stays pending, for the next start
            gateway.batches.store.close()
            sweeper.cancel()
            if listener is not None:
                listener.cancel()
            registry.end_all()
            await engine.close()
            await stored.flush()  # responses on their way to the store
            store.close()
            if shared is not None:
                await shared.close()
            if demo is not None:
                await asyncio.to_thread(demo.stop)

    app = FastAPI(title="Claude Gateway", version="0.1.0", lifespan=lifespan)
    app.state.gateway = gateway
    app.state.metrics = observed

    app.add_middleware(DrainGuard, gateway=gateway)
    app.add_middleware(RateHeaders)
    if not settings.keyed:
        app.add_middleware(KeylessGuard)
    if settings.allowed_origin_set:
        app.add_middleware(OriginGuard, allowed=settings.allowed_origin_set)
    app.add_middleware(RequestLog, metrics=observed)  # sees every answer, refusals too
    if settings.demo:
        app.add_middleware(DemoHeader)  # outermost: on every answer
    for module in (
        chat,
        batches,
        message_batches,
        messages,
        responses,
        models,
        sessions,
        files,
        uploads,
        usage,
        reports,
        admin,
        admin_live,
        console,
        health,
    ):
        app.include_router(module.router)
    app.include_router(sockets.router)  # WebSockets: /v1/responses (beside its POST) and /v1/chat/ws
    app.include_router(metrics.router)
    openapi.install(app)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return error_response(request.url.path, exc, request.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        error = GatewayError(
            exc.status_code, str(exc.detail), "invalid_request_error", code, headers=getattr(exc, "headers", None) or {}
        )
        return error_response(request.url.path, error, request.headers)

    @app.exception_handler(RedisError)  # out of reach, and refusals (READONLY after a failover, OOM)
    async def shared_store_down(request: Request, exc: Exception) -> JSONResponse:
        """Redis (GATEWAY_REDIS_URL) out of reach is the gateway's outage, not a bug: a 503 to retry."""
        log.warning("the shared store did not answer: %r", exc)
        return error_response(request.url.path, store_unavailable(), request.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(
            request.url.path,
            GatewayError(500, "The gateway failed unexpectedly.", "server_error", "internal_error"),
            request.headers,
        )

    return app
