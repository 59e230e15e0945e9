"""POST /v1/messages (Anthropic Messages API, started by app/doors/messages.py) and
/v1/messages/count_tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...core.bodies import parse, read_json
from ...dialects.anthropic_messages.claude_code import unapplied_betas
from ...dialects.anthropic_messages.wire import CountTokensRequest, MessagesRequest
from ...doors import messages as door
from ...doors.checks import session_id
from ...files.resolve import resolver
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TenantDep, TurnTenantDep
from ..respond import answer

router = APIRouter()


@router.post("/v1/messages", **openapi.operation(MessagesRequest, anthropic=True))
async def messages(request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep) -> Response:
    body, ignored = await door.REQUESTS.read(request, gateway, tenant)
    started = await door.begin(gateway, body, tenant, credential, session_id(request, body.session_id))
    betas = unapplied_betas(request.headers.get("anthropic-beta"))
    return await answer(request, started, bool(body.stream), ignored + betas)


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
