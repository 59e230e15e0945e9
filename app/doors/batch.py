"""One batch request, answered as its door answers a non-streaming request: the door's own
protocol model, translator in, a one-off stateless turn (SessionService.one_off, so the key's
model list, max_concurrent and max_processes hold, and the ledger records it with door "batch"),
translator out. Nothing here translates anything itself.

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
from typing import Any

import pydantic_core
from pydantic import BaseModel

from ..batches.model import CHAT, MESSAGES, RESPONSES
from ..core.bodies import parse
from ..core.credentials import Credential
from ..core.errors import invalid_request
from ..dialects.anthropic_messages import inbound as messages
from ..dialects.anthropic_messages import outbound as messages_out
from ..dialects.anthropic_messages.wire import MessagesRequest
from ..dialects.openai_chat import inbound as chat
from ..dialects.openai_chat import outbound as chat_out
from ..dialects.openai_chat.wire import ChatCompletionRequest
from ..dialects.openai_responses import inbound as responses
from ..dialects.openai_responses import outbound as responses_out
from ..dialects.openai_responses.wire import ResponsesRequest
from ..dialects.request_rules import unsupported_parameter
from ..files.resolve import checker, resolver
from ..tenancy.auth import Tenant
from .fanout import by_choice, indexed
from .gateway import Gateway

DOOR = "batch"  # what the ledger calls a batch request's door

MODELS: dict[str, type[BaseModel]] = {
    MESSAGES: MessagesRequest,
    CHAT: ChatCompletionRequest,
    RESPONSES: ResponsesRequest,
}
IGNORED: dict[str, Callable[[Any], list[str]]] = {
    MESSAGES: messages.ignored_parameters,
    CHAT: chat.ignored_parameters,
    RESPONSES: responses.ignored_parameters,
}
NOT_IN_BATCHES = ("session_id", "claude_code")
RESOLVED_AS = {MESSAGES: "messages", CHAT: "chat", RESPONSES: "responses"}


async def resolved(gateway: Gateway, tenant: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    """A copy of `params` with its file ids read as the door reads them (app/files/resolve.py), as
    the batch's key: a stored request keeps its ids, and reads its files again when it runs."""
    return await resolver(gateway.files, tenant, RESOLVED_AS[endpoint])(copy.deepcopy(params))


def checking(gateway: Gateway, tenant: str, endpoint: str) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    """What checks many requests' file ids at a batch's create, as the batch's key, reading no file
    (app/files/resolve.py `checker`): a copy of each `params` with stand-ins for its files, ready
    for `check`; the stored params keep their ids, and `answer` reads the files when each runs."""
    check_files = checker(gateway.files, tenant, RESOLVED_AS[endpoint])

    async def checked(params: dict[str, Any]) -> dict[str, Any]:
        # A copy through JSON in C: copy.deepcopy took a third of a 100,000-request create.
        copied: dict[str, Any] = pydantic_core.from_json(pydantic_core.to_json(params))
        return await check_files(copied)

    return checked


def check(endpoint: str, params: dict[str, Any], strict: bool) -> BaseModel:
    """`params` as the door's request, or a 400 naming what a batch request cannot have."""
    body = parse(MODELS[endpoint], params)
    if getattr(body, "stream", None):
        raise invalid_request("A batch request cannot stream: leave out `stream`.", "stream", "invalid_value")
    for name in NOT_IN_BATCHES:
        if getattr(body, name, None) is not None:
            raise invalid_request(
                f"`{name}` is not available in batches: each batch request is a one-off turn.", name, "invalid_value"
            )
    ignored = IGNORED[endpoint](body)
    if strict and ignored:
        raise unsupported_parameter(ignored[0])
    return body


async def answer(
    gateway: Gateway, tenant: Tenant, credential: Credential | None, endpoint: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The door's whole answer to `params` (a GatewayError as the door would raise it)."""
    body = check(endpoint, await resolved(gateway, tenant.id, endpoint, params), gateway.settings.strict_params)
    if isinstance(body, MessagesRequest):
        return await _message(gateway, tenant, credential, body)
    if isinstance(body, ChatCompletionRequest):
        return await _completion(gateway, tenant, credential, body)
    assert isinstance(body, ResponsesRequest)
    return await _response(gateway, tenant, credential, body)


async def _message(
    gateway: Gateway, tenant: Tenant, credential: Credential | None, body: MessagesRequest
) -> dict[str, Any]:
    msg_id = messages_out.message_id()
    turn = messages.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, msg_id)
    turn.credential = credential
    events = [event async for event in gateway.sessions.one_off(turn, tenant, DOOR)]
    return messages_out.message(events, msg_id, body.model)


async def _completion(
    gateway: Gateway, tenant: Tenant, credential: Credential | None, body: ChatCompletionRequest
) -> dict[str, Any]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    turn = chat.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, completion_id)
    turn.credential = credential
    n, created = body.n or 1, int(time.time())
    # One choice after another, not side by side as the door runs them: a batch request holds one
    # process slot (the share's cap and interactive traffic's room), and n > GATEWAY_MAX_PROCESSES
    # would otherwise find the gateway busy each time it is tried.
    items: list[tuple[int, Any]] = []
    for choice in range(n):
        items += [(choice, event) async for _, event in indexed(gateway.sessions.one_off(turn, tenant, DOOR))]
    legacy = chat.uses_legacy_functions(body)
    return chat_out.completion(by_choice(items, n), completion_id, created, body.model, legacy)


async def _response(
    gateway: Gateway, tenant: Tenant, credential: Credential | None, body: ResponsesRequest
) -> dict[str, Any]:
    registry = gateway.sessions.registry
    earlier, system = await gateway.responses.earlier(tenant.id, body.previous_response_id, registry)
    resp_id = responses_out.response_id()
    turn = responses.to_turn(body, gateway.engine.resolve_model(body.model), tenant.id, resp_id, earlier, system)
    turn.credential = credential
    events = [event async for event in gateway.sessions.one_off(turn, tenant, DOOR)]
    return responses_out.build(events, responses_out.ResponseBuilder(resp_id, int(time.time()), body))
