"""One batch request, answered as its door answers a non-streaming request (`BatchDoor.answer`,
which the batch runner is given to answer with: app/batches/runner.py): the door's own protocol
model (its REQUESTS), translator in, a one-off stateless turn (SessionService.one_off, so the
key's model list, max_concurrent and max_processes hold, and the ledger records it with door
"batch"), translator out. Nothing here translates anything itself.

`check` is what a request must pass before it is accepted (Anthropic checks every request when the
batch is created; OpenAI's input lines are checked as they run, a bad one answered 400 in the
error file, as OpenAI does). A batch request has no session, no stream and no agent mode: each is a
one-off turn that runs later, with no client to stream to or to hold a session's workspace for.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel

from ..batches.model import CHAT, MESSAGES, RESPONSES
from ..core.bodies import parse
from ..core.credentials import Credential
from ..core.errors import invalid_request
from ..core.settings import Settings
from ..dialects.anthropic_messages import inbound as messages
from ..dialects.anthropic_messages import outbound as messages_out
from ..dialects.anthropic_messages.wire import MessagesRequest
from ..dialects.openai_chat import inbound as chat
from ..dialects.openai_chat import outbound as chat_out
from ..dialects.openai_chat.custom_calls import custom_names
from ..dialects.openai_chat.wire import ChatCompletionRequest
from ..dialects.openai_responses import inbound as responses
from ..dialects.openai_responses import outbound as responses_out
from ..dialects.openai_responses.wire import ResponsesRequest
from ..dialects.request_rules import unsupported_parameter
from ..engine.interface import Engine
from ..files import Files
from ..files.resolve import checker, resolver
from ..sessions.service import SessionService
from ..sessions.stored_responses import ResponseStore
from ..tenancy.auth import Tenant
from . import chat as chat_door
from . import messages as messages_door
from . import responses as responses_door
from .checks import Requests, hosted_tools
from .fanout import by_choice, indexed

DOOR = "batch"  # what the ledger calls a batch request's door

# Each endpoint's requests, read as its door reads them.
REQUESTS: dict[str, Requests[Any]] = {
    MESSAGES: messages_door.REQUESTS,
    CHAT: chat_door.REQUESTS,
    RESPONSES: responses_door.REQUESTS,
}
NOT_IN_BATCHES = ("session_id", "claude_code")


async def resolved(files: Files, tenant: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    """A copy of `params` with its file ids read as the door reads them (app/files/resolve.py), as
    the batch's key: a stored request keeps its ids, and reads its files again when it runs."""
    return await resolver(files, tenant, REQUESTS[endpoint].files)(copy.deepcopy(params))


def checking(
    files: Files, tenant: str, endpoint: str, strict: bool
) -> Callable[[dict[str, Any]], Awaitable[BaseModel]]:
    """What checks many requests at a batch's create, as the batch's key: each `params` as the
    door's request (`check`), its file ids looked up, no file read (app/files/resolve.py `checker`:
    a copy of `params` with stand-ins for its files is checked). The stored params keep their ids,
    and `answer` reads the files when each runs."""
    check_files = checker(files, tenant, REQUESTS[endpoint].files)

    async def checked(params: dict[str, Any]) -> BaseModel:
        # A copy through JSON in C: copy.deepcopy took a third of a 100,000-request create.
        copied: dict[str, Any] = pydantic_core.from_json(pydantic_core.to_json(params))
        return check(endpoint, await check_files(copied), strict)

    return checked


def check(endpoint: str, params: dict[str, Any], strict: bool) -> BaseModel:
    """`params` as the door's request, or a 400 naming what a batch request cannot have."""
    requests = REQUESTS[endpoint]
    body: BaseModel = parse(requests.model, params)
    if getattr(body, "stream", None):
        raise invalid_request("A batch request cannot stream: leave out `stream`.", "stream", "invalid_value")
    for name in NOT_IN_BATCHES:
        if getattr(body, name, None) is not None:
            raise invalid_request(
                f"`{name}` is not available in batches: each batch request is a one-off turn.", name, "invalid_value"
            )
    tools = getattr(body, "tools", None) or []
    if getattr(body, "mcp_servers", None) or any(getattr(tool, "type", None) == "mcp" for tool in tools):
        raise invalid_request(
            "Remote MCP servers are not available in batches: their URLs are checked as a request arrives.",
            "mcp_servers" if isinstance(body, MessagesRequest) else "tools",
            "invalid_value",
        )
    ignored = requests.ignored_parameters(body)
    if strict and ignored:
        raise unsupported_parameter(ignored[0])
    return body


@dataclass
class BatchDoor:
    """The parts a batch request's answer takes: the doors' own, no HTTP."""

    strict: bool  # GATEWAY_STRICT_PARAMS: what a request would have ignored is its 400
    engine: Engine
    sessions: SessionService
    responses: ResponseStore
    files: Files
    settings: Settings

    async def answer(
        self, tenant: Tenant, credential: Credential | None, endpoint: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The door's whole answer to `params` (a GatewayError as the door would raise it)."""
        body = check(endpoint, await resolved(self.files, tenant.id, endpoint, params), self.strict)
        if isinstance(body, MessagesRequest):
            return await self._message(tenant, credential, body)
        if isinstance(body, ChatCompletionRequest):
            return await self._completion(tenant, credential, body)
        assert isinstance(body, ResponsesRequest)
        return await self._response(tenant, credential, body)

    async def _message(self, tenant: Tenant, credential: Credential | None, body: MessagesRequest) -> dict[str, Any]:
        msg_id = messages_out.message_id()
        turn = messages.to_turn(body, self.engine.resolve_model(body.model), tenant.id, msg_id)
        turn.credential = credential
        hosted_tools(turn, tenant, self.settings)
        events = [event async for event in self.sessions.one_off(turn, tenant, DOOR)]
        return messages_out.message(events, msg_id, body.model)

    async def _completion(
        self, tenant: Tenant, credential: Credential | None, body: ChatCompletionRequest
    ) -> dict[str, Any]:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        turn = chat.to_turn(body, self.engine.resolve_model(body.model), tenant.id, completion_id)
        turn.credential = credential
        hosted_tools(turn, tenant, self.settings)
        n, created = body.n or 1, int(time.time())
        # One choice after another, not side by side as the door runs them: a batch request holds one
        # process slot (the share's cap and interactive traffic's room), and n > GATEWAY_MAX_PROCESSES
        # would otherwise find the gateway busy each time it is tried.
        items: list[tuple[int, Any]] = []
        for choice in range(n):
            items += [(choice, event) async for _, event in indexed(self.sessions.one_off(turn, tenant, DOOR))]
        legacy = chat.uses_legacy_functions(body)
        custom = custom_names(body)
        return chat_out.completion(by_choice(items, n), completion_id, created, body.model, legacy, custom)

    async def _response(self, tenant: Tenant, credential: Credential | None, body: ResponsesRequest) -> dict[str, Any]:
        earlier, system = await self.responses.earlier(tenant.id, body.previous_response_id, self.sessions.registry)
        resp_id = responses_out.response_id()
        turn = responses.to_turn(body, self.engine.resolve_model(body.model), tenant.id, resp_id, earlier, system)
        turn.credential = credential
        hosted_tools(turn, tenant, self.settings)
        events = [event async for event in self.sessions.one_off(turn, tenant, DOOR)]
        return responses_out.build(events, responses_out.ResponseBuilder(resp_id, int(time.time()), body))
