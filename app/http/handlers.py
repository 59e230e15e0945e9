"""What answers an exception no route answered, always in the door's own error envelope
(app/http/respond.py): the gateway's own errors, Starlette's (404, 405), Redis out of reach (503,
to retry), and any other failure (500, logged with its traceback)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from ..core.errors import GatewayError, store_unavailable
from .respond import error_response

log = logging.getLogger(__name__)


async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
    return error_response(request.url.path, exc, request.headers)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    error = GatewayError(
        exc.status_code, str(exc.detail), "invalid_request_error", code, headers=getattr(exc, "headers", None) or {}
    )
    return error_response(request.url.path, error, request.headers)


async def shared_store_down(request: Request, exc: Exception) -> JSONResponse:
    """Redis (GATEWAY_REDIS_URL) out of reach is the gateway's outage, not a bug: a 503 to retry."""
    log.warning("the shared store did not answer: %r", exc)
    return error_response(request.url.path, store_unavailable(), request.headers)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        request.url.path,
        GatewayError(500, "The gateway failed unexpectedly.", "server_error", "internal_error"),
        request.headers,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, gateway_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    # Out of reach, and refusals (READONLY after a failover, OOM).
    app.add_exception_handler(RedisError, shared_store_down)
    app.add_exception_handler(Exception, unexpected)
