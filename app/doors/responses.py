"""OpenAI Responses' door: its requests read (`REQUESTS`), and a response started (`begin`: the
conversation that `previous_response_id` names, the turn translated, agent mode under the key's
policy, the session; the response stored when it finishes). The HTTP route
(app/http/routes/responses.py) and the Responses WebSocket (app/http/sockets/responses.py) both
start their responses here, and render them their own way."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from ..core.credentials import Credential
from ..core.errors import GatewayError
from ..core.events import Event
from ..core.messages import Message
from ..core.turn import Turn
from ..dialects.openai_responses import inbound as translate
from ..dialects.openai_responses import outbound as translate_out
from ..dialects.openai_responses.wire import McpListToolsItem, McpTool, ResponsesRequest
from ..sessions.stored_responses import StoredResponse
from ..sessions.turn import SessionTurn
from ..tenancy.auth import Tenant
from . import remote_mcp
from .checks import Requests, agent_mode, hosted_tools, turn_headers
from .gateway import Gateway

REQUESTS = Requests(ResponsesRequest, translate.ignored_parameters, "responses")
MAX_CHAIN = 100  # earlier responses looked through for a server's tool list


@dataclass
class Started:
    """A response under way: its id, its turn in its session, and what builds its response (whole
    or as a stream: app/http/respond.py `Started`)."""

    id: str
    turn: Turn
    run: SessionTurn
    builder: translate_out.ResponseBuilder

    def events(self) -> AsyncGenerator[Event, None]:
        return self.run.events()

    def whole(self, events: list[Event]) -> dict[str, Any]:
        """The whole response, its events collected."""
        return translate_out.build(events, self.builder)

    def frames(self) -> translate_out.ResponseBuilder:
        return self.builder

    def headers(self, ignored: list[str]) -> dict[str, str]:
        return turn_headers("X-Request-Id", self.id, self.run.session_id, ignored + self.turn.unapplied)


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
    hosted_tools(turn, tenant, gateway.settings)
    turn.agent = agent_mode(body.claude_code, gateway.settings, tenant, gateway.engine.resolve_model, turn.tools)
    urls = {t.server_label: f"tools[{i}].server_url" for i, t in enumerate(body.tools or []) if isinstance(t, McpTool)}
    turn.hosted = await remote_mcp.checked(turn.hosted, gateway.settings, tenant, urls, turn.agent is not None)
    listed = await _listed(gateway, tenant, body) if turn.hosted.mcp else set()
    run = gateway.sessions.turn(turn, None, tenant, "responses")

    def store(response: dict[str, Any]) -> None:
        conversation = gateway.sessions.registry.conversation(run.pointer) if run.pointer else None
        if remember is not None:
            remember(Remembered(resp_id, list(conversation or turn.messages), turn.system))
        if body.store is not False:
            added = (conversation or turn.messages)[len(earlier) :]  # what this response added
            item = StoredResponse(tenant.id, response, run.pointer, turn.system)
            gateway.responses.put(resp_id, item, body.previous_response_id, added)

    builder = translate_out.ResponseBuilder(resp_id, int(time.time()), body, on_finish=store, listed=listed)
    return Started(resp_id, turn, run, builder)


async def _listed(gateway: Gateway, tenant: Tenant, body: ResponsesRequest) -> set[str]:
    """The remote MCP servers whose tools this conversation listed already (an mcp_list_tools item
    sent back, or in an earlier response of the previous_response_id chain): not listed again."""
    items = body.input if isinstance(body.input, list) else []
    labels = {item.server_label for item in items if isinstance(item, McpListToolsItem)}
    previous, hops = body.previous_response_id, 0
    while previous is not None and hops < MAX_CHAIN:
        try:
            response = await gateway.responses.get(tenant.id, previous)
        except GatewayError:
            break
        labels |= {o.get("server_label", "") for o in response.get("output", []) if o.get("type") == "mcp_list_tools"}
        previous, hops = response.get("previous_response_id"), hops + 1
    return labels
