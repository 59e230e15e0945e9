"""POST /v1/responses, GET and DELETE /v1/responses/{id} (OpenAI Responses API)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..files.resolve import resolver
from ..protocol.openai_responses import ResponsesRequest
from ..sessions.responses import StoredResponse
from ..translate import openai_responses as translate
from ..translate import openai_responses_out as translate_out
from . import openapi
from .checks import agent_mode, checked_body, turn_headers
from .deps import CredentialDep, GatewayDep, TenantDep, TurnTenantDep
from .respond import respond

router = APIRouter()


@router.post("/v1/responses", **openapi.operation(ResponsesRequest))
async def create_response(
    request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep
) -> Response:
    body, ignored = await checked_body(
        request,
        gateway.settings,
        ResponsesRequest,
        translate.ignored_parameters,
        resolver(gateway.files, tenant.id, "responses"),
    )
    # previous_response_id continues the conversation it names: the whole history up to it goes
    # in, and the session registry's continuation finds the live conversation (branches included).
    earlier, system = await gateway.responses.earlier(tenant.id, body.previous_response_id, gateway.sessions.registry)
    resp_id = translate_out.response_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, system)
    turn.credential = credential
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant)
    run = gateway.sessions.turn(turn, None, tenant, "responses")

    def store(response: dict[str, Any]) -> None:
        if body.store is not False:
            conversation = gateway.sessions.registry.conversation(run.pointer) if run.pointer else None
            added = (conversation or turn.messages)[len(earlier) :]  # what this response added
            item = StoredResponse(tenant.id, response, run.pointer, turn.system)
            gateway.responses.put(resp_id, item, body.previous_response_id, added)

    builder = translate_out.ResponseBuilder(resp_id, int(time.time()), body, on_finish=store)
    return await respond(
        request,
        run.events(),
        bool(body.stream),
        whole=lambda events: translate_out.build(events, builder),
        frames=builder,
        headers=lambda: turn_headers("X-Request-Id", resp_id, run.session_id, ignored + turn.unapplied),
        # With replicas, the stored response is in Redis before its client can name it to another.
        settle=gateway.responses.flush if gateway.shared is not None else None,
    )


@router.get("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return await gateway.responses.get(tenant.id, response_id)


@router.delete("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    await gateway.responses.delete(tenant.id, response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}
