"""POST /v1/messages (Anthropic Messages API) and /v1/messages/count_tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...core.bodies import parse, read_json
from ...dialects.anthropic_messages import inbound as translate
from ...dialects.anthropic_messages import outbound as translate_out
from ...dialects.anthropic_messages.wire import CountTokensRequest, MessagesRequest
from ...doors.checks import agent_mode, checked_body, session_id, turn_headers
from ...files.resolve import resolver
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TenantDep, TurnTenantDep
from ..respond import respond

router = APIRouter()


@router.post("/v1/messages", **openapi.operation(MessagesRequest, anthropic=True))
async def messages(request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep) -> Response:
    body, ignored = await checked_body(
        request,
        gateway.settings,
        MessagesRequest,
        translate.ignored_parameters,
        resolver(gateway.files, tenant.id, "messages"),
    )
    msg_id = translate_out.message_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, msg_id)
    turn.credential = credential
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model)
    run = gateway.sessions.turn(turn, session_id(request, body.session_id), tenant, "messages")
    return await respond(
        request,
        run.events(),
        bool(body.stream),
        whole=lambda events: translate_out.message(events, msg_id, body.model),
        frames=translate_out.EventStream(msg_id, body.model),
        headers=lambda: turn_headers("request-id", msg_id, run.session_id, ignored + turn.unapplied),
    )


@router.post(
    "/v1/messages/count_tokens", **openapi.operation(CountTokensRequest, (400, 401, 403, 404, 408, 413), anthropic=True)
)
async def count_tokens(request: Request, gateway: GatewayDep, tenant: TenantDep, credential: CredentialDep) -> Response:
    data = await resolver(gateway.files, tenant.id, "messages")(await read_json(request, gateway.settings))
    body = parse(CountTokensRequest, data)
    model = gateway.engine.resolve_model(body.model)  # 404 unless served
    gateway.sessions.limits.check_model(tenant, model, gateway.engine.resolve_model)  # and the key's list
    count, source = await gateway.engine.count_tokens(data, credential)
    return JSONResponse({"input_tokens": count}, headers={"X-Gateway-Token-Count": source})
