"""POST /v1/responses, GET and DELETE /v1/responses/{id} (OpenAI Responses API)."""

from __future__ import annotations

import logging
import time
from typing import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..auth import Tenant, authenticate
from ..engine.types import Event, Finish, Turn
from ..errors import GatewayError
from ..protocol.openai_responses import ResponsesRequest
from ..requests import parse, read_json
from ..sessions.responses import StoredResponse
from ..translate import openai_responses as translate
from ..translate.openai_chat import unsupported_parameter
from .streaming import ClientDisconnected, unless_disconnected

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/v1/responses")
async def create_response(request: Request, tenant: Tenant = Depends(authenticate)) -> Response:
    gateway = request.app.state.gateway
    body = parse(ResponsesRequest, await read_json(request, gateway.settings.max_body_bytes))
    ignored = translate.ignored_parameters(body)
    strict = request.headers.get("x-gateway-strict", "").lower()
    if ignored and (strict in ("1", "true", "yes") or (gateway.settings.strict_params and strict not in ("0", "false", "no"))):
        raise unsupported_parameter(ignored[0])
    earlier, earlier_system = [], None
    if body.previous_response_id:
        previous = gateway.responses.get(tenant.id, body.previous_response_id, "previous_response_id")
        earlier, earlier_system = previous.conversation, previous.system
    resp_id = translate.response_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, earlier_system)
    # previous_response_id continues the conversation it names: the whole history up to it goes
    # in, and the session registry's continuation finds the live conversation (branches included).
    run = gateway.sessions.turn(turn, None)
    events = _storing(run.events(), gateway, turn, tenant.id, body, resp_id)
    builder = translate.ResponseBuilder(resp_id, int(time.time()), body)
    headers = {"X-Request-Id": resp_id, **({"X-Gateway-Ignored-Params": ",".join(ignored)} if ignored else {})}
    try:
        if not body.stream:
            collected = await unless_disconnected(request, _collect(events))
            for event in collected:
                builder.apply(event)
            return JSONResponse(builder.response(), headers={**headers, "X-Session-Id": run.session_id or ""})
        first = await unless_disconnected(request, events.__anext__())
    except ClientDisconnected:
        await events.aclose()
        return Response(status_code=499)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await events.aclose()
        raise
    return StreamingResponse(
        _sse(builder, first, events), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers, "X-Session-Id": run.session_id or ""},
    )


@router.get("/v1/responses/{response_id}")
async def get_response(response_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    return request.app.state.gateway.responses.get(tenant.id, response_id).response


@router.delete("/v1/responses/{response_id}")
async def delete_response(response_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    request.app.state.gateway.responses.delete(tenant.id, response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}


async def _storing(events: AsyncIterator[Event], gateway, turn: Turn, tenant: str, body: ResponsesRequest,
                   resp_id: str) -> AsyncIterator[Event]:
    """The turn's events; once it finished, the response and its conversation are stored."""
    collected: list[Event] = []
    try:
        async for event in events:
            collected.append(event)
            yield event
    finally:
        await events.aclose()
    finish = next((e for e in reversed(collected) if isinstance(e, Finish)), None)
    if finish is not None and body.store is not False:
        builder = translate.ResponseBuilder(resp_id, int(time.time()), body)
        gateway.responses.put(resp_id, StoredResponse(
            tenant, translate.build(collected, builder), [*turn.messages, finish.message], turn.system))


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


async def _sse(builder: translate.ResponseBuilder, first: Event | None, events: AsyncIterator[Event]) -> AsyncIterator[str]:
    try:
        for frame in builder.start():
            yield frame
        if first is not None:
            for frame in builder.stream(first):
                yield frame
        async for event in events:
            for frame in builder.stream(event):
                yield frame
    except GatewayError as error:
        for frame in builder.error(error):
            yield frame
    except Exception:
        log.exception("turn failed while streaming")
        for frame in builder.error(GatewayError(500, "The gateway failed while streaming.", "server_error", "internal_error")):
            yield frame
    finally:
        await events.aclose()
