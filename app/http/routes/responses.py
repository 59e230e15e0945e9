"""POST /v1/responses, GET and DELETE /v1/responses/{id} (OpenAI Responses API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...core.credentials import Credential
from ...core.messages import Message
from ...core.turn import Turn
from ...dialects.openai_responses import inbound as translate
from ...dialects.openai_responses import outbound as translate_out
from ...dialects.openai_responses.wire import ResponsesRequest
from ...doors.checks import agent_mode, checked_body, turn_headers
from ...doors.gateway import Gateway
from ...files.resolve import resolver
from ...sessions.stored_responses import StoredResponse
from ...sessions.turn import SessionTurn
from ...tenancy.auth import Tenant
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TenantDep, TurnTenantDep
from ..respond import respond

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
    started = await begin(gateway, body, tenant, credential)
    return await respond(
        request,
        started.run.events(),
        bool(body.stream),
        whole=lambda events: translate_out.build(events, started.builder),
        frames=started.builder,
        headers=lambda: turn_headers(
            "X-Request-Id", started.id, started.run.session_id, ignored + started.turn.unapplied
        ),
        # With replicas, the stored response is in Redis before its client can name it to another.
        settle=gateway.responses.flush if gateway.shared is not None else None,
    )


@dataclass
class Started:
    """A response under way (the HTTP door and the Responses WebSocket both start them here)."""

    id: str
    turn: Turn
    run: SessionTurn
    builder: translate_out.ResponseBuilder


@dataclass
class Remembered:
    """A response's conversation (its answer included) and system prompt, as a Responses WebSocket
    keeps its last response whatever its `store`: the reference's connection-local state, so that
    store=false clients (Codex) chain with previous_response_id."""

    id: str
    conversation: list[Message]
    system: str | None


async def begin(
    gateway: Gateway,
    body: ResponsesRequest,
    tenant: Tenant,
    credential: Credential | None,
    remembered: Remembered | None = None,
    remember: Callable[[Remembered], None] | None = None,
) -> Started:
    """The request's turn, started; its response is stored when it finishes (unless store=false),
    and given to `remember` (a socket's memory, which continues it as `remembered`)."""
    # previous_response_id continues the conversation it names: the whole history up to it goes
    # in, and the session registry's continuation finds the live conversation (branches included).
    if remembered is not None and body.previous_response_id == remembered.id:
        earlier, system = remembered.conversation, remembered.system
    else:
        earlier, system = await gateway.responses.earlier(
            tenant.id, body.previous_response_id, gateway.sessions.registry
        )
    resp_id = translate_out.response_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, system)
    turn.credential = credential
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model)
    run = gateway.sessions.turn(turn, None, tenant, "responses")

    def store(response: dict[str, Any]) -> None:
        conversation = gateway.sessions.registry.conversation(run.pointer) if run.pointer else None
        if remember is not None:
            remember(Remembered(resp_id, list(conversation or turn.messages), turn.system))
        if body.store is not False:
            added = (conversation or turn.messages)[len(earlier) :]  # what this response added
            item = StoredResponse(tenant.id, response, run.pointer, turn.system)
            gateway.responses.put(resp_id, item, body.previous_response_id, added)

    builder = translate_out.ResponseBuilder(resp_id, int(time.time()), body, on_finish=store)
    return Started(resp_id, turn, run, builder)


@router.get("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return await gateway.responses.get(tenant.id, response_id)


@router.delete("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    await gateway.responses.delete(tenant.id, response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}
