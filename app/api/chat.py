"""POST /v1/chat/completions: parse, authorise, run the turn, render (JSON or SSE)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import replace
from typing import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..auth import Tenant, authenticate
from ..errors import GatewayError, invalid_request
from ..protocol.openai_chat import SESSION_ID_PATTERN, ChatCompletionRequest
from ..requests import parse, read_json
from ..translate import openai_chat as translate
from .streaming import ClientDisconnected, Indexed, collect, indexed, merged, unless_disconnected

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, tenant: Tenant = Depends(authenticate)) -> Response:
    gateway = request.app.state.gateway
    body = parse(ChatCompletionRequest, await read_json(request, gateway.settings.max_body_bytes))
    ignored = translate.ignored_parameters(body)
    strict = request.headers.get("x-gateway-strict", "").lower()
    if ignored and (strict in ("1", "true", "yes") or (gateway.settings.strict_params and strict not in ("0", "false", "no"))):
        raise translate.unsupported_parameter(ignored[0])
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, completion_id)
    created = int(time.time())
    n = body.n or 1
    run = None
    if n == 1:
        run = gateway.sessions.turn(turn, body.session_id or _session_header(request))
        events: AsyncIterator[Indexed] = indexed(run.events())
    else:  # independent one-off turns, outside any session
        events = merged([gateway.engine.stream(replace(turn)) for _ in range(n)])
    try:
        if not body.stream:
            choices = await unless_disconnected(request, collect(events, n))
            return JSONResponse(
                translate.completion(choices, completion_id, created, body.model, translate.uses_legacy_functions(body)),
                headers=_headers(completion_id, run and run.session_id, ignored),
            )
        # Wait for the first event before answering, so a failure that comes first (bad credential,
        # rate limit) gets its real HTTP status instead of a 200 stream that carries an error.
        first = await unless_disconnected(request, events.__anext__())
    except ClientDisconnected:
        await events.aclose()
        return Response(status_code=499)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await events.aclose()
        raise
    chunks = translate.ChunkStream(
        completion_id, created, body.model, bool(body.stream_options and body.stream_options.include_usage),
        translate.uses_legacy_functions(body),
    )
    return StreamingResponse(
        _sse(chunks, n, first, events), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                 **_headers(completion_id, run and run.session_id, ignored)},
    )


def _session_header(request: Request) -> str | None:
    value = request.headers.get("x-session-id")
    if value is not None and not re.match(SESSION_ID_PATTERN, value):
        raise invalid_request(
            "X-Session-Id must be 1-128 letters, digits or ._:- characters.", "X-Session-Id", "invalid_value"
        )
    return value


def _headers(completion_id: str, session_id: str | None, ignored: list[str]) -> dict[str, str]:
    headers = {"X-Request-Id": completion_id}
    if session_id:
        headers["X-Session-Id"] = session_id
    if ignored:
        headers["X-Gateway-Ignored-Params"] = ",".join(ignored)
    return headers


async def _sse(
    chunks: translate.ChunkStream, n: int, first: Indexed | None, events: AsyncIterator[Indexed]
) -> AsyncIterator[str]:
    try:
        for index in range(n):
            yield chunks.start(index)
        if first is not None:
            for frame in chunks.event(first[1], first[0]):
                yield frame
        async for index, event in events:
            for frame in chunks.event(event, index):
                yield frame
        for frame in chunks.end():
            yield frame
    except GatewayError as error:
        yield chunks.error(error)
    except Exception:
        log.exception("turn failed while streaming")
        yield chunks.error(GatewayError(500, "The gateway failed while streaming.", "server_error", "internal_error"))
    finally:
        await events.aclose()
    yield chunks.done()
