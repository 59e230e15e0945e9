"""OpenAI Chat Completions' door: its requests read (`REQUESTS`), and a completion started
(`begin`: the turn translated, agent mode under the key's policy, the session, `n` answers). The
HTTP route (app/http/routes/chat.py) and the chat WebSocket (app/http/sockets/chat.py) both start
their completions here, and render them their own way."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from ..core.credentials import Credential
from ..core.errors import invalid_request
from ..core.turn import Turn
from ..dialects.openai_chat import inbound as translate
from ..dialects.openai_chat import outbound as translate_out
from ..dialects.openai_chat.custom_calls import custom_names
from ..dialects.openai_chat.wire import ChatCompletionRequest
from ..tenancy.auth import Tenant
from .checks import Requests, agent_mode, hosted_tools, turn_headers
from .fanout import Choices, Indexed, by_choice
from .gateway import Gateway

REQUESTS = Requests(ChatCompletionRequest, translate.ignored_parameters, "chat")


@dataclass
class Chat:
    """A chat completion under way: its id, its turn, its `n` answers; its events, and how they
    are rendered whole or as a stream (app/http/respond.py `Started`)."""

    id: str
    created: int
    body: ChatCompletionRequest
    turn: Turn
    choices: Choices
    n: int
    legacy: bool

    def events(self) -> AsyncGenerator[Indexed, None]:
        return self.choices.events()

    def frames(self) -> translate_out.ChunkStream:
        """The stream's chunks (SSE over HTTP, one message each over the chat WebSocket)."""
        usage = bool(self.body.stream_options and self.body.stream_options.include_usage)
        custom = custom_names(self.body)
        return translate_out.ChunkStream(self.id, self.created, self.body.model, usage, self.legacy, self.n, custom)

    def whole(self, items: list[Indexed]) -> dict[str, Any]:
        """The whole completion, its `n` answers' events collected."""
        choices, custom = by_choice(items, self.n), custom_names(self.body)
        return translate_out.completion(choices, self.id, self.created, self.body.model, self.legacy, custom)

    def headers(self, ignored: list[str]) -> dict[str, str]:
        return turn_headers("X-Request-Id", self.id, self.choices.session_id, ignored + self.turn.unapplied)


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
    hosted_tools(turn, tenant, gateway.settings)
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model, turn.tools)
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
