"""What every front door checks in a request, and the headers it answers with: the body read and
validated (`Requests`), strict mode (X-Gateway-Strict), the session a request names (X-Session-Id), the
caller's own Claude credential (X-Claude-Credential), and the report of what was ignored
(X-Gateway-Ignored-Params)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from ..agent.policy import agent_mode_off, resolve
from ..agent.request import ClaudeCodeRequest
from ..core import credentials
from ..core.agent import PERMISSION_FUNCTION, AgentConfig
from ..core.bodies import parse, read_json
from ..core.credentials import Credential
from ..core.errors import GatewayError, invalid_request
from ..core.messages import ToolSpec
from ..core.settings import Settings
from ..core.turn import Turn
from ..core.wire import SESSION_ID_PATTERN
from ..dialects.request_rules import unsupported_parameter
from ..engine.agent import sandbox
from ..files.resolve import resolver
from ..tenancy.auth import Tenant, agent_mode_allowed, hosted_tools_allowed, request_credential_allowed
from ..tenancy.limits import allows_model
from .gateway import Gateway

MAX_IGNORED_HEADER = 1024  # characters of parameter names in X-Gateway-Ignored-Params

Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True)
class Requests(Generic[Body]):
    """How one door reads its requests: their model, the parameters in one the gateway will not
    apply (which strict mode refuses), and the door's name for reading their file ids
    (app/files/resolve.py). Each door has one (app/doors/chat.py, messages.py, responses.py)."""

    model: type[Body]
    ignored_parameters: Callable[[Body], list[str]]
    files: str

    async def read(self, request: Request, gateway: Gateway, tenant: Tenant) -> tuple[Body, list[str]]:
        """The HTTP request's body as the door's request, and what it has that will be ignored."""
        return await self.checked(await read_json(request, gateway.settings), request, gateway, tenant)

    async def checked(
        self, data: dict[str, Any], connection: HTTPConnection, gateway: Gateway, tenant: Tenant
    ) -> tuple[Body, list[str]]:
        """A request body already read (a socket's message, or `read`'s), as above: its file ids
        resolved first, as the caller's."""
        body = parse(self.model, await resolver(gateway.files, tenant.id, self.files)(data))
        ignored = self.ignored_parameters(body)
        refuse_if_strict(connection, gateway.settings.strict_params, ignored)
        return body, ignored


def refuse_if_strict(request: HTTPConnection, strict_setting: bool, ignored: list[str]) -> None:
    """Strict mode (server-wide, or X-Gateway-Strict per request) refuses what would be ignored."""
    header = request.headers.get("x-gateway-strict", "").lower()
    strict = header in ("1", "true", "yes") or (strict_setting and header not in ("0", "false", "no"))
    if ignored and strict:
        raise unsupported_parameter(ignored[0])


def session_id(request: HTTPConnection, from_body: str | None) -> str | None:
    """The session a request names: its body field, else the X-Session-Id header."""
    value = from_body or request.headers.get("x-session-id")
    if from_body is None and value is not None and not re.fullmatch(SESSION_ID_PATTERN, value):
        raise invalid_request(
            "X-Session-Id must be 1-128 letters, digits or ._:- characters.", "X-Session-Id", "invalid_value"
        )
    return value


def hosted_tools(turn: Turn, tenant: Tenant, settings: Settings) -> None:
    """403 `hosted_tool_not_allowed` for a hosted tool (web search, ...) the caller may not use:
    each search is billed to the gateway's credential (tenancy/auth.py says who may)."""
    allowed = hosted_tools_allowed(tenant, settings)
    for name in turn.hosted.names:
        if name not in allowed:
            raise GatewayError(
                403,
                f"The hosted tool {name!r} is not enabled for this API key. Its admin can allow it with the key's "
                "`hosted_tools` policy (GATEWAY_HOSTED_TOOLS for keyless mode and GATEWAY_API_KEYS keys).",
                "permission_error",
                "hosted_tool_not_allowed",
                "tools",
            )


def agent_mode(
    request: ClaudeCodeRequest | None,
    settings: Settings,
    tenant: Tenant,
    resolve_model: Callable[[str], str | None],
    tools: tuple[ToolSpec, ...] = (),
) -> AgentConfig | None:
    """A request's `claude_code` under its key's policy (403 naming the field it may not have);
    None: chat mode. Agent mode needs its sandbox (503 where bubblewrap cannot run). The models it
    names (fallback, subagents') are held to the key's models list, as `resolve_model` reads them.
    With permission prompts, the reserved function's name is not one of the client's `tools`
    (its calls would be taken for prompts: engine/agent/prompts.py)."""
    if request is None:
        return None
    if not agent_mode_allowed(tenant, settings):
        raise agent_mode_off()
    config = resolve(request, settings, tenant.policy, model_check(tenant, resolve_model))
    if config.permission_prompts and any(tool.name == PERMISSION_FUNCTION for tool in tools):
        raise invalid_request(
            f"The function name {PERMISSION_FUNCTION!r} is reserved for permission prompts "
            "(claude_code.permission_prompts): name the function otherwise.",
            "tools",
        )
    if settings.agent_sandbox and sandbox.bubblewrap() is None:
        raise GatewayError(
            503,
            "Agent mode needs bubblewrap on the gateway's host (Debian: apt-get install bubblewrap socat), "
            "or GATEWAY_AGENT_SANDBOX=false where the host is itself a throwaway sandbox.",
            "api_error",
            "agent_sandbox_unavailable",
        )
    return config


def model_check(tenant: Tenant, resolve_model: Callable[[str], str | None]) -> Callable[[str], bool] | None:
    """Whether the key's models list allows a model name (None: the key has no list); a name
    this gateway does not serve is not allowed."""
    if tenant.policy is None or tenant.policy.models is None:
        return None

    def may_use(name: str) -> bool:
        try:
            model = resolve_model(name)
        except GatewayError:
            return False
        return allows_model(tenant, model, resolve_model)

    return may_use


CREDENTIAL_HEADER = "X-Claude-Credential"


def request_credential(request: HTTPConnection, settings: Settings, tenant: Tenant) -> Credential | None:
    """The caller's own Claude credential, sent with this request: 403 unless the caller may send
    one, 400 if it is not one. Its value is never stored, logged, or quoted back."""
    header = request.headers.get(CREDENTIAL_HEADER)
    if header is None:
        return None
    if not request_credential_allowed(tenant, settings):
        raise GatewayError(
            403,
            f"This gateway does not accept Claude credentials per request ({CREDENTIAL_HEADER}); "
            "its operator can allow them with GATEWAY_ALLOW_REQUEST_CREDENTIALS=true.",
            "permission_error",
            "request_credentials_not_allowed",
            CREDENTIAL_HEADER,
        )
    try:
        return credentials.parse(header)
    except ValueError as exc:
        raise invalid_request(f"{CREDENTIAL_HEADER}: {exc}", CREDENTIAL_HEADER, "invalid_credential") from None


def turn_headers(id_header: str, request_id: str, session: str | None, ignored: list[str]) -> dict[str, str]:
    """The headers every front door answers with: its request id, the session, what was ignored."""
    headers = {id_header: request_id}
    if session:
        headers["X-Session-Id"] = session  # validated against SESSION_ID_PATTERN
    if ignored:
        headers["X-Gateway-Ignored-Params"] = ignored_header(ignored)
    return headers


def ignored_header(names: list[str]) -> str:
    """The ignored parameters' names, safe as a header value.

    The names of unknown fields are the client's: they may hold CR/LF or NUL (which would end the
    response, or let the client write headers of its own) or text outside latin-1 (which cannot be
    sent at all), and there may be thousands. So each name is percent-encoded, and the list stops
    at about 1 KB with a count of the rest.
    """
    shown: list[str] = []
    size = 0
    for name in names:
        encoded = quote(name, safe="[]", errors="replace")
        if size + len(encoded) > MAX_IGNORED_HEADER:
            break
        shown.append(encoded)
        size += len(encoded) + 1
    rest = len(names) - len(shown)
    return ",".join(shown + ([f"...({rest} more)"] if rest else []))
