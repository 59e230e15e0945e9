"""POST /v1/responses, GET and DELETE /v1/responses/{id} (OpenAI Responses API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..engine.types import Event, Finish
from ..errors import GatewayError
from ..protocol.openai_responses import ResponsesRequest
from ..sessions.responses import StoredResponse
from ..translate import openai_responses as translate
from . import openapi
from .checks import checked_body, turn_headers
from .deps import GatewayDep, TenantDep
from .respond import respond

router = APIRouter()


@router.post("/v1/responses", **openapi.operation(ResponsesRequest))
async def create_response(request: Request, gateway: GatewayDep, tenant: TenantDep) -> Response:
    body, ignored = await checked_body(request, gateway.settings, ResponsesRequest, translate.ignored_parameters)
    # previous_response_id continues the conversation it names: the whole history up to it goes
    # in, and the session registry's continuation finds the live conversation (branches included).
    earlier, system = gateway.responses.earlier(tenant.id, body.previous_response_id, gateway.sessions.registry)
    resp_id = translate.response_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, system)
    run = gateway.sessions.turn(turn, None)

    def store(response: dict[str, Any]) -> None:
        if body.store is not False:
            gateway.responses.put(resp_id, StoredResponse(tenant.id, response, run.pointer, turn.system))

    builder = _Storing(translate.ResponseBuilder(resp_id, int(time.time()), body), store)
    return await respond(
        request,
        run.events(),
        bool(body.stream),
        whole=builder.whole,
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


class _Storing:
    """The response builder, whole or as frames, handing the response to `store` once the turn
    finished: the very response the client gets (same item ids), built once, stored before the
    client can name it."""

    def __init__(self, builder: translate.ResponseBuilder, store: Callable[[dict[str, Any]], None]) -> None:
        self.builder, self.store = builder, store

    def whole(self, events: list[Event]) -> dict[str, Any]:
        response = translate.build(events, self.builder)
        if any(isinstance(event, Finish) for event in events):
            self.store(response)
        return response

    def opening(self) -> list[str]:
        return self.builder.opening()

    def frames(self, event: Event) -> list[str]:
        frames = self.builder.frames(event)
        if isinstance(event, Finish):
            self.store(self.builder.response())
        return frames

    def closing(self) -> list[str]:
        return self.builder.closing()

    def failure(self, error: GatewayError) -> list[str]:
        return self.builder.failure(error)
