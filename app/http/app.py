"""create_app(settings, engine): the HTTP app assembled around the gateway that app/http/wiring.py
builds: its lifespan (app/http/lifespan.py), middleware, routers and error handlers
(app/http/handlers.py).

All mutable state lives on one object, `app.state.gateway`.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..core.settings import Settings
from ..engine.interface import Engine
from . import handlers, openapi
from .lifespan import lifespan
from .middleware.demo_header import DemoHeader
from .middleware.drain import DrainGuard
from .middleware.keyless import KeylessGuard
from .middleware.origins import OriginGuard
from .middleware.rate_headers import RateHeaders
from .middleware.request_log import RequestLog
from .routes import (
    admin,
    batches,
    chat,
    console,
    files,
    health,
    message_batches,
    messages,
    metrics,
    models,
    reports,
    responses,
    sessions,
    usage,
    workspace_files,
)
from .sockets import routes as sockets
from .wiring import wire


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    wired = wire(settings, engine)
    gateway = wired.gateway

    app = FastAPI(title="Claude Gateway", version="0.1.0", lifespan=lifespan(wired))
    app.state.gateway = gateway
    app.state.metrics = wired.metrics

    app.add_middleware(DrainGuard, gateway=gateway)
    app.add_middleware(RateHeaders)
    if not settings.keyed:
        app.add_middleware(KeylessGuard)
    if settings.allowed_origin_set:
        app.add_middleware(OriginGuard, allowed=settings.allowed_origin_set)
    app.add_middleware(RequestLog, metrics=wired.metrics)  # sees every answer, refusals too
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
        workspace_files,
        files,
        usage,
        reports,
        admin,
        console,
        health,
    ):
        app.include_router(module.router)
    app.include_router(sockets.router)  # WebSockets: /v1/responses (beside its POST) and /v1/chat/ws
    app.include_router(metrics.router)
    openapi.install(app)
    handlers.install(app)
    return app
