"""POST /v1/chat/completions: parse, authorise, run the turn (or `n` of them), render (JSON or SSE)."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import invalid_request
from ..files.resolve import resolver
from ..protocol.openai_chat import ChatCompletionRequest
from ..sessions.fanout import Choices, by_choice
from ..translate import openai_chat as translate
from ..translate import openai_chat_out as translate_out
from . import openapi
from .checks import agent_mode, checked_body, session_id, turn_headers
from .deps import CredentialDep, GatewayDep, TurnTenantDep
from .respond import respond

router = APIRouter()


@router.post("/v1/chat/completions", **openapi.operation(ChatCompletionRequest))
async def chat_completions(
    request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep
) -> Response:
    body, ignored = await checked_body(
        request,
        gateway.settings,
        ChatCompletionRequest,
        translate.ignored_parameters,
        resolver(gateway.files, tenant.id, "chat"),
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, completion_id)
    turn.credential = credential
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant)
    n, created, legacy = body.n or 1, int(time.time()), translate.uses_legacy_functions(body)
    requested = session_id(request, body.session_id)
    if n > 1 and requested:
        raise invalid_request(
            "n > 1 cannot continue a session: each answer is a conversation of its own. "
            "Leave out session_id (and X-Session-Id), or ask for one answer.",
            "n",
        )
    choices = Choices(gateway.sessions, turn, requested, n, tenant)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return await respond(
        request,
        choices.events(),
        bool(body.stream),
        whole=lambda items: translate_out.completion(by_choice(items, n), completion_id, created, body.model, legacy),
        frames=translate_out.ChunkStream(completion_id, created, body.model, usage, legacy, n),
        headers=lambda: turn_headers("X-Request-Id", completion_id, choices.session_id, ignored + turn.unapplied),
    )
