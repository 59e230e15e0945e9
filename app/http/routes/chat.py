"""POST /v1/chat/completions: parse, authorise, run the turn (or `n` of them), render (JSON or SSE)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...core.credentials import Credential
from ...core.errors import invalid_request
from ...core.turn import Turn
from ...dialects.openai_chat import inbound as translate
from ...dialects.openai_chat import outbound as translate_out
from ...dialects.openai_chat.wire import ChatCompletionRequest
from ...doors.checks import agent_mode, checked_body, session_id, turn_headers
from ...doors.fanout import Choices, by_choice
from ...doors.gateway import Gateway
from ...files.resolve import resolver
from ...tenancy.auth import Tenant
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TurnTenantDep
from ..respond import respond

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
    chat = begin(gateway, body, tenant, credential, session_id(request, body.session_id))
    return await respond(
        request,
        chat.choices.events(),
        bool(body.stream),
        whole=lambda items: translate_out.completion(
            by_choice(items, chat.n), chat.id, chat.created, body.model, chat.legacy
        ),
        frames=chat.chunks(),
        headers=lambda: turn_headers("X-Request-Id", chat.id, chat.choices.session_id, ignored + chat.turn.unapplied),
    )


@dataclass
class Chat:
    """A chat completion under way: its id, its turn, its `n` answers (the HTTP door and the chat
    WebSocket both start them here)."""

    id: str
    created: int
    body: ChatCompletionRequest
    turn: Turn
    choices: Choices
    n: int
    legacy: bool

    def chunks(self) -> translate_out.ChunkStream:
        usage = bool(self.body.stream_options and self.body.stream_options.include_usage)
        return translate_out.ChunkStream(self.id, self.created, self.body.model, usage, self.legacy, self.n)


def begin(
    gateway: Gateway,
    body: ChatCompletionRequest,
    tenant: Tenant,
    credential: Credential | None,
    requested: str | None,
) -> Chat:
    """The request's turn (or `n` of them) started in session `requested` (None: found or new)."""
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, completion_id)
    turn.credential = credential
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model)
    n = body.n or 1
    if n > 1 and turn.agent is not None:
        raise invalid_request(
            "n > 1 is not available in agent mode: each answer would need a workspace of its own, "
            "which the key's workspace quota could not hold to. Ask for one answer.",
            "n",
        )
    if n > 1 and requested:
        raise invalid_request(
            "n > 1 cannot continue a session: each answer is a conversation of its own. "
            "Leave out session_id (and X-Session-Id), or ask for one answer.",
            "n",
        )
    choices = Choices(gateway.sessions, turn, requested, n, tenant)
    return Chat(completion_id, int(time.time()), body, turn, choices, n, translate.uses_legacy_functions(body))
