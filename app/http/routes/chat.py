"""POST /v1/chat/completions: parse, authorise, start the turn (or `n` of them: app/doors/chat.py),
render (JSON or SSE)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...dialects.openai_chat.wire import ChatCompletionRequest
from ...doors import chat
from ...doors.checks import session_id
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TurnTenantDep
from ..respond import answer

router = APIRouter()


@router.post("/v1/chat/completions", **openapi.operation(ChatCompletionRequest))
async def chat_completions(
    request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep
) -> Response:
    body, ignored = await chat.REQUESTS.read(request, gateway, tenant)
    started = chat.begin(gateway, body, tenant, credential, session_id(request, body.session_id))
    return await answer(request, started, bool(body.stream), ignored)
