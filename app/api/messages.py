"""POST /v1/messages (Anthropic Messages API) and /v1/messages/count_tokens."""

from __future__ import annotations

import logging
import re
from typing import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..auth import Tenant, authenticate
from ..engine.types import Event
from ..errors import GatewayError, invalid_request
from ..protocol.anthropic_messages import CountTokensRequest, MessagesRequest
from ..protocol.openai_chat import SESSION_ID_PATTERN
from ..requests import parse, read_json
from ..translate import anthropic_messages as translate
from ..translate.openai_chat import unsupported_parameter
from .streaming import ClientDisconnected, unless_disconnected

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/v1/messages")
async def messages(request: Request, tenant: Tenant = Depends(authenticate)) -> Response:
    gateway = request.app.state.gateway
    body = parse(MessagesRequest, await read_json(request, gateway.settings.max_body_bytes))
    ignored = translate.ignored_parameters(body)
    strict = request.headers.get("x-gateway-strict", "").lower()
    if ignored and (strict in ("1", "true", "yes") or (gateway.settings.strict_params and strict not in ("0", "false", "no"))):
        raise unsupported_parameter(ignored[0])
    msg_id = translate.message_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, msg_id)
    session_id = body.session_id or request.headers.get("x-session-id")
    if session_id is not None and not re.match(SESSION_ID_PATTERN, session_id):
        raise invalid_request("X-Session-Id must be 1-128 letters, digits or ._:- characters.", "X-Session-Id")
    run = gateway.sessions.turn(turn, session_id)
    events = run.events()
    try:
        if not body.stream:
            collected = await unless_disconnected(request, _collect(events))
            return JSONResponse(translate.message(collected, msg_id, body.model),
                                headers=_headers(msg_id, run.session_id, ignored))
        first = await unless_disconnected(request, events.__anext__())
    except ClientDisconnected:
        await events.aclose()
        return Response(status_code=499)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await events.aclose()
        raise
    stream = translate.EventStream(msg_id, body.model)
    return StreamingResponse(
        _sse(stream, first, events), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **_headers(msg_id, run.session_id, ignored)},
    )


@router.post("/v1/messages/count_tokens")
async def count_tokens(request: Request, tenant: Tenant = Depends(authenticate)) -> Response:
    gateway = request.app.state.gateway
    data = await read_json(request, gateway.settings.max_body_bytes)
    body = parse(CountTokensRequest, data)
    gateway.engine.resolve_model(body.model)  # 404 unless served
    count, source = await gateway.engine.count_tokens(data)
    return JSONResponse({"input_tokens": count}, headers={"X-Gateway-Token-Count": source})


def _headers(msg_id: str, session_id: str | None, ignored: list[str]) -> dict[str, str]:
    headers = {"request-id": msg_id}
    if session_id:
        headers["X-Session-Id"] = session_id
    if ignored:
        headers["X-Gateway-Ignored-Params"] = ",".join(ignored)
    return headers


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


async def _sse(stream: translate.EventStream, first: Event | None, events: AsyncIterator[Event]) -> AsyncIterator[str]:
    try:
        for frame in stream.start():
            yield frame
        if first is not None:
            for frame in stream.event(first):
                yield frame
        async for event in events:
            for frame in stream.event(event):
                yield frame
    except GatewayError as error:
        yield stream.error(error)
    except Exception:
        log.exception("turn failed while streaming")
        yield stream.error(GatewayError(500, "The gateway failed while streaming.", "server_error", "internal_error"))
    finally:
        await events.aclose()
