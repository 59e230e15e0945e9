"""Anthropic Messages' door: its requests read (`REQUESTS`), and a message started (`begin`: the
turn translated, agent mode under the key's policy, the session). The HTTP route
(app/http/routes/messages.py) starts its messages here and renders them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from ..core.credentials import Credential
from ..core.events import Event
from ..core.turn import Turn
from ..dialects.anthropic_messages import claude_code
from ..dialects.anthropic_messages import inbound as translate
from ..dialects.anthropic_messages import outbound as translate_out
from ..dialects.anthropic_messages.wire import MessagesRequest
from ..sessions.turn import SessionTurn
from ..tenancy.auth import Tenant
from . import remote_mcp
from .checks import Requests, agent_mode, hosted_tools, turn_headers
from .gateway import Gateway

REQUESTS = Requests(MessagesRequest, translate.ignored_parameters, "messages")


@dataclass
class Started:
    """A message under way: its id, its request, its turn in its session; how it is rendered whole
    or as a stream (app/http/respond.py `Started`)."""

    id: str
    body: MessagesRequest
    turn: Turn
    run: SessionTurn

    def events(self) -> AsyncGenerator[Event, None]:
        return self.run.events()

    def whole(self, events: list[Event]) -> dict[str, Any]:
        """The whole message, its events collected."""
        return translate_out.message(events, self.id, self.body.model)

    def frames(self) -> translate_out.EventStream:
        return translate_out.EventStream(self.id, self.body.model)

    def headers(self, ignored: list[str]) -> dict[str, str]:
        return turn_headers("request-id", self.id, self.run.session_id, ignored + self.turn.unapplied)


async def begin(
    gateway: Gateway, body: MessagesRequest, tenant: Tenant, credential: Credential | None, requested: str | None
) -> Started:
    """The request's turn started in session `requested` (None: found or new)."""
    msg_id = translate_out.message_id()
    turn = translate.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, msg_id)
    turn.credential = credential
    hosted_tools(turn, tenant, gateway.settings)
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model, turn.tools)
    urls = {server.name: f"mcp_servers[{i}].url" for i, server in enumerate(body.mcp_servers or [])}
    turn.hosted = await remote_mcp.checked(turn.hosted, gateway.settings, tenant, urls, turn.agent is not None)
    key = claude_code.session_key(body.metadata.user_id) if body.metadata else None
    run = gateway.sessions.turn(turn, requested, tenant, "messages", key)
    return Started(msg_id, body, turn, run)
