"""A key's agent policy (its caps and defaults), and a request's `claude_code` resolved under it
into the engine's AgentConfig. A request that asks for more than its key allows gets a 403 that
names the field; without `claude_code`, a request stays in chat mode.

Who may use agent mode: a managed key whose policy says `agent_mode`, and (keyless mode,
GATEWAY_API_KEYS keys) the gateway when GATEWAY_AGENT_MODE is on, under GATEWAY_AGENT_POLICY.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationError

from ..core.agent import DEFAULT_TOOLS, AgentConfig
from ..core.errors import GatewayError, invalid_request
from ..core.settings import Settings
from ..engine.agent.permissions import canonical
from .request import ClaudeCodeRequest, McpServerIn, PermissionModeName, Strict, ToolName

MAX_TURNS, MAX_BUDGET_USD = 1000, 1_000_000  # a request's own ceilings (request.py)
MAX_ENTRIES = 256  # of each list of a policy
MAX_WORKSPACE_QUOTA_MB = 1024 * 1024  # 1 TiB
Entry = Annotated[str, Field(max_length=2048)]


class AgentPolicy(Strict):
    tools: list[ToolName] | None = Field(default=None, description="Built-in tools the key may enable; null: all.")
    defaults: ClaudeCodeRequest | None = Field(default=None, description="Fields a request leaves out.")
    permission_modes: list[PermissionModeName] | None = Field(
        default=None, description="Modes the key may ask for; null: all but bypassPermissions."
    )
    allow_bypass_permissions: bool = False
    # Bounded as a request's own claude_code fields are (request.py); lists and quota sanely.
    max_turns: int | None = Field(default=None, ge=1, le=MAX_TURNS)
    max_budget_usd: float | None = Field(default=None, gt=0, le=MAX_BUDGET_USD, allow_inf_nan=False)
    mcp_urls: list[Entry] = Field(
        default_factory=list, max_length=MAX_ENTRIES, description="URL prefixes the key's own MCP servers may use."
    )
    allowed_domains: list[Entry] = Field(
        default_factory=list, max_length=MAX_ENTRIES, description="Hosts commands may reach."
    )
    agents: bool = Field(default=True, description="The key may define subagents.")
    permission_prompts: bool | None = Field(
        default=None,
        description="The key may ask to be asked about calls its mode does not give; null: if it may use "
        "acceptEdits (an approved call may edit: a key held to plan or default is not widened by approving).",
    )
    disallowed_tools: list[Entry] = Field(
        default_factory=list, max_length=MAX_ENTRIES, description="Always added to a request's."
    )
    workspace_quota_mb: int | None = Field(default=None, ge=0, le=MAX_WORKSPACE_QUOTA_MB)


DEFAULT_PORTS = {"http": 80, "https": 443}
INHERIT = "inherit"  # a subagent's model: the request's own
# What the subagent tool's `model` input may say (CLI 2.1.329's Agent tool: an enum of aliases).
SUBAGENT_MODELS = ("sonnet", "opus", "haiku", "fable")


def forbidden(field: str, why: str) -> GatewayError:
    return GatewayError(
        403, f"claude_code.{field}: {why}", "permission_error", "agent_policy_denied", f"claude_code.{field}"
    )


def agent_mode_off() -> GatewayError:
    return GatewayError(
        403,
        "Agent mode is not enabled for this API key (claude_code). Its admin can turn it on with the "
        "key's `agent_mode` policy (GATEWAY_AGENT_MODE=true for keyless mode and GATEWAY_API_KEYS keys).",
        "permission_error",
        "agent_mode_not_allowed",
        "claude_code",
    )


@cache
def gateway_policy(text: str) -> AgentPolicy:
    """GATEWAY_AGENT_POLICY, read once."""
    try:
        return AgentPolicy.model_validate_json(text) if text.strip() else AgentPolicy()
    except ValidationError as exc:
        raise SystemExit(f"GATEWAY_AGENT_POLICY is not a valid agent policy: {exc}") from None


@cache
def operator_servers(path: str | None) -> dict[str, dict[str, Any]]:
    """The operator's MCP servers (GATEWAY_MCP_CONFIG, `{"mcpServers": {...}}`), read once."""
    if not path:
        return {}
    try:
        servers = json.loads(Path(path).expanduser().read_text()).get("mcpServers", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise SystemExit(f"GATEWAY_MCP_CONFIG {path}: {exc}") from None
    if not isinstance(servers, dict):
        raise SystemExit(f"GATEWAY_MCP_CONFIG {path}: mcpServers must be an object")
    return servers


def resolve(
    request: ClaudeCodeRequest,
    settings: Settings,
    key_policy: Any | None,
    may_use: Callable[[str], bool] | None = None,
) -> AgentConfig:
    """`request` under the caller's key (a policy.model.Policy, None for keyless and static keys),
    which may use agent mode (auth.agent_mode_allowed). `may_use` says whether the key's models
    list allows a model name (None: any model)."""
    policy: AgentPolicy = (key_policy.agent if key_policy is not None else None) or gateway_policy(
        settings.agent_policy
    )
    asked = _with_defaults(request, policy.defaults)

    tools = tuple(asked.tools) if asked.tools is not None else DEFAULT_TOOLS
    if policy.tools is not None:
        may = {canonical(t) for t in policy.tools}
        if asked.tools is None:
            tools = tuple(t for t in tools if canonical(t) in may)
        elif extra := [t for t in tools if canonical(t) not in may]:
            raise forbidden("tools", f"this key may not enable {', '.join(extra)}.")
    enabled = {canonical(t) for t in tools}
    for rule in asked.allowed_tools or []:
        name = rule.split("(")[0]
        if not name.startswith("mcp__") and canonical(name) not in enabled:
            raise forbidden("allowed_tools", f"{name} is not among the tools enabled for this request.")

    mode = asked.permission_mode or "default"
    if mode == "bypassPermissions" and not policy.allow_bypass_permissions:
        raise forbidden("permission_mode", "this key may not use bypassPermissions.")
    if policy.permission_modes is not None and mode not in policy.permission_modes:
        raise forbidden("permission_mode", f"this key may use only {', '.join(policy.permission_modes)}.")

    if asked.permission_prompts and not _may_ask(policy):
        raise forbidden("permission_prompts", "this key may not ask for permission prompts.")

    max_turns = _capped("max_turns", asked.max_turns, policy.max_turns)
    budget = _capped("max_budget_usd", asked.max_budget_usd, policy.max_budget_usd)
    servers = _servers(asked.mcp_servers or [], settings, key_policy, policy)
    if asked.agents and not policy.agents:
        raise forbidden("agents", "this key may not define subagents.")
    subagent_models = _models(asked, may_use)
    return AgentConfig(
        tools=tools,
        allowed_tools=tuple(asked.allowed_tools or ()),
        disallowed_tools=tuple([*(asked.disallowed_tools or ()), *policy.disallowed_tools]),
        permission_mode=mode,
        permission_prompts=bool(asked.permission_prompts),
        max_turns=max_turns,
        max_budget_usd=budget,
        mcp_servers=json.dumps(servers, sort_keys=True),
        agents=json.dumps(
            {name: agent.model_dump(exclude_none=True) for name, agent in (asked.agents or {}).items()}, sort_keys=True
        ),
        fallback_model=asked.fallback_model,
        add_dirs=tuple(_inside("add_dirs", d) for d in asked.add_dirs or ()),
        allowed_domains=tuple(policy.allowed_domains),
        subagent_models=subagent_models,
    )


def _may_ask(policy: AgentPolicy) -> bool:
    if policy.permission_prompts is not None:
        return policy.permission_prompts
    return policy.permission_modes is None or "acceptEdits" in policy.permission_modes


def _models(asked: ClaudeCodeRequest, may_use: Callable[[str], bool] | None) -> tuple[str, ...] | None:
    """Every model the request names besides its own (checked at its door), held to the key's list
    (403 naming the field): the fallback model, each subagent's ("inherit": the request's own).
    Returns the names Claude may give the subagent tool's `model` input (None: any), which the
    permission hook holds to: Claude Code lets a call pick a subagent's model."""
    if may_use is None:
        return None
    named = [("fallback_model", asked.fallback_model)]
    named += [(f"agents.{name}.model", agent.model) for name, agent in (asked.agents or {}).items()]
    for field, model in named:
        if model is not None and model != INHERIT and not may_use(model):
            raise forbidden(field, f"this key may not use the model {model!r} (its models list).")
    return tuple(name for name in SUBAGENT_MODELS if may_use(name))


def _with_defaults(request: ClaudeCodeRequest, defaults: ClaudeCodeRequest | None) -> ClaudeCodeRequest:
    if defaults is None:
        return request
    return defaults.model_copy(update=request.model_dump(exclude_unset=True, exclude_none=True))


def _capped(field: str, asked: float | None, cap: float | None) -> Any:
    if cap is None:
        return asked
    if asked is not None and asked > cap:
        raise forbidden(field, f"this key allows at most {cap:g}.")
    return asked if asked is not None else cap


def _servers(
    asked: list[str | McpServerIn], settings: Settings, key_policy: Any | None, policy: AgentPolicy
) -> dict[str, dict[str, Any]]:
    catalog = operator_servers(settings.mcp_config)
    allowed_names = key_policy.mcp_servers if key_policy is not None else None
    servers: dict[str, dict[str, Any]] = {}
    for server in asked:
        if isinstance(server, str):
            if server not in catalog:
                raise forbidden("mcp_servers", f"'{server}' is not one of this gateway's MCP servers.")
            if allowed_names is not None and server not in allowed_names:
                raise forbidden("mcp_servers", f"this key may not use the MCP server '{server}'.")
            servers[server] = catalog[server]
        else:
            if not any(url_allowed(server.url, prefix) for prefix in policy.mcp_urls):
                raise forbidden("mcp_servers", f"this key may not reach {server.url!r} (its mcp_urls allow-list).")
            servers[server.name] = {"type": server.type, "url": server.url, "headers": server.headers or {}}
    return servers


def url_allowed(url: str, prefix: str) -> bool:
    """Whether `url` is under the allow-list's `prefix`: the same scheme, host and port, and a path
    at or below the prefix's, segment by segment. Not a text prefix: `https://mcp.example.com`
    would let `https://mcp.example.com.evil.net/` and `https://mcp.example.com@evil.net/` through.
    A URL that parsers may read differently (backslashes, spaces, control characters) or whose
    path climbs (`..`, `.`, also percent-encoded) is never allowed."""
    if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        asked, allowed = urlsplit(url), urlsplit(prefix)
        ports = asked.port or DEFAULT_PORTS.get(asked.scheme), allowed.port or DEFAULT_PORTS.get(allowed.scheme)
    except ValueError:
        return False
    if asked.scheme.lower() != allowed.scheme.lower() or not asked.hostname or ports[0] != ports[1]:
        return False
    if asked.hostname != allowed.hostname or asked.username is not None or asked.password is not None:
        return False
    segments = asked.path.split("/")
    if any(unquote(segment) in (".", "..") for segment in segments):
        return False
    base = allowed.path.rstrip("/")
    return not base or asked.path == base or asked.path.startswith(base + "/")


def _inside(field: str, path: str) -> str:
    """A folder the request names, relative to the workspace and inside it."""
    normal = posixpath.normpath(path)
    if path.startswith("/") or "\x00" in path or normal == ".." or normal.startswith("../"):
        raise forbidden(field, f"{path!r} is not inside the session's workspace.")
    if normal == ".":
        raise invalid_request(f"claude_code.{field}: {path!r} is the workspace itself.", f"claude_code.{field}")
    return normal
