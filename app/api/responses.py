"""POST /v1/responses, GET and DELETE /v1/responses/{id} (OpenAI Responses API)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..engine.types import Event, Finish, Turn
from ..gateway import Gateway
from ..protocol.openai_responses import ResponsesRequest
from ..requests import parse, read_json
from ..sessions.responses import StoredResponse
from ..translate import openai_responses as translate
from . import openapi
from .checks import refuse_if_strict, turn_headers
from .deps import GatewayDep, TenantDep
from .respond import respond

router = APIRouter()


@router.post("/v1/responses", **openapi.operation(ResponsesRequest))
async def create_response(request: Request, gateway: GatewayDep, tenant: TenantDep) -> Response:
    body = parse(ResponsesRequest, await read_json(request, gateway.settings))
    ignored = translate.ignored_parameters(body)
    refuse_if_strict(request, gateway.settings.strict_params, ignored)
    earlier, earlier_system = [], None
    if body.previous_response_id:
        previous = gateway.responses.get(tenant.id, body.previous_response_id, "previous_response_id")
        earlier, earlier_system = previous.conversation, previous.system
    resp_id = translate.response_id()
    turn = translate.to_turn(
        body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, earlier_system
    )
    # previous_response_id continues the conversation it names: the whole history up to it goes
    # in, and the session registry's continuation finds the live conversation (branches included).
    run = gateway.sessions.turn(turn, None)
    events = _storing(run.events(), gateway, turn, tenant.id, body, resp_id)
    builder = translate.ResponseBuilder(resp_id, int(time.time()), body)

    return await respond(
        request,
        events,
        bool(body.stream),
        whole=lambda items: translate.build(items, builder),
        frames=builder,
        headers=lambda: turn_headers("X-Request-Id", resp_id, run.session_id, ignored),
    )


@router.get("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return gateway.responses.get(tenant.id, response_id).response


@router.delete("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    gateway.responses.delete(tenant.id, response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}


async def _storing(
    events: AsyncIterator[Event], gateway: Gateway, turn: Turn, tenant: str, body: ResponsesRequest, resp_id: str
) -> AsyncIterator[Event]:
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
        gateway.responses.put(
            resp_id,
            StoredResponse(tenant, translate.build(collected, builder), [*turn.messages, finish.message], turn.system),
        )
