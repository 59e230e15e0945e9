"""A managed key's policy, and the admin API's bodies, as pydantic models: the admin API validates
with them, the store keeps their JSON form, and a resolved caller (auth.Tenant) carries one.

Every limit is optional; None means none. `budget_usd` and `token_budget` count over
`budget_period` (a UTC day or calendar month).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..agent.policy import MAX_BUDGET_USD as AGENT_MAX_BUDGET_USD
from ..agent.policy import MAX_TURNS, MAX_WORKSPACE_QUOTA_MB, AgentPolicy

# Every number an admin sets has a ceiling far above any real use and far below what breaks a
# 64-bit counter or a sum (rpm 10**26 and budget_usd 1e308 used to be accepted): past it, 400
# naming the field. Floats must be finite (JSON's Infinity and NaN, which Python reads, too).
MAX_RPM = 1_000_000
MAX_RUNNING = 10_000  # max_concurrent, max_processes
MAX_SESSIONS = 1_000_000
MAX_BUDGET_USD = 10_000_000.0
MAX_TOKEN_BUDGET = 10**12
MAX_NAMES = 256  # entries of a key's models and mcp_servers lists
MAX_NAME_LENGTH = 256

Rpm = Annotated[int, Field(ge=1, le=MAX_RPM)]
Running = Annotated[int, Field(ge=1, le=MAX_RUNNING)]
Sessions = Annotated[int, Field(ge=1, le=MAX_SESSIONS)]
BudgetUsd = Annotated[float, Field(ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False)]
TokenBudget = Annotated[int, Field(ge=0, le=MAX_TOKEN_BUDGET)]
Name = Annotated[str, Field(max_length=MAX_NAME_LENGTH)]
Names = Annotated[list[Name], Field(max_length=MAX_NAMES)]
Urls = Annotated[list[Annotated[str, Field(max_length=2048)]], Field(max_length=MAX_NAMES)]
# Hosted tools (core/hosted.py), each once.
HostedNames = Annotated[list[Literal["web_search", "web_fetch", "mcp"]], Field(max_length=3)]
CEILINGS: dict[str, float] = {
    "rpm": MAX_RPM,
    "max_concurrent": MAX_RUNNING,
    "max_processes": MAX_RUNNING,
    "max_sessions": MAX_SESSIONS,
    "budget_usd": MAX_BUDGET_USD,
    "token_budget": MAX_TOKEN_BUDGET,
}
AGENT_CEILINGS: dict[str, float] = {
    "max_turns": MAX_TURNS,
    "max_budget_usd": AGENT_MAX_BUDGET_USD,
    "workspace_quota_mb": MAX_WORKSPACE_QUOTA_MB,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaudeCredentialIn(Strict):
    """The key owner's own Claude credential: an Anthropic API key, or a subscription OAuth token
    from `claude setup-token`."""

    type: Literal["api_key", "oauth_token"]
    value: str = Field(min_length=1, max_length=10_000)


class Policy(Strict):
    models: Names | None = Field(default=None, description="Models the key may use (names or aliases).")
    rpm: Rpm | None = Field(default=None, description="Requests per minute.")
    max_concurrent: Running | None = Field(default=None, description="Turns running at once.")
    max_processes: Running | None = Field(default=None, description="Claude processes the key may hold.")
    max_sessions: Sessions | None = Field(default=None, description="Sessions the key may keep.")
    budget_usd: BudgetUsd | None = Field(default=None, description="USD per budget period.")
    budget_period: Literal["day", "month"] = "month"
    token_budget: TokenBudget | None = Field(default=None, description="Tokens per budget period.")
    agent_mode: bool = False
    agent: AgentPolicy | None = Field(default=None, description="Agent mode's caps and defaults (docs/agent-mode.md).")
    mcp_servers: Names | None = Field(default=None, description="The gateway's MCP servers it may use; null: all.")
    mcp_urls: Urls | None = Field(
        default=None,
        description="URL prefixes of the remote MCP servers it may name (hosted tools); null: the gateway's.",
    )
    hosted_tools: HostedNames | None = Field(
        default=None, description="Hosted tools it may use (web_search, web_fetch, mcp); null: none."
    )
    request_credentials: bool = Field(
        default=False, description="The key may send its own Claude credential per request (X-Claude-Credential)."
    )

    @property
    def limited(self) -> bool:
        """Whether requests of this key are counted (and answered with rate headers)."""
        return self.rpm is not None


class KeyCreate(Policy):
    name: str = Field(min_length=1, max_length=200)
    claude_credential: ClaudeCredentialIn | None = None


class KeyPatch(Strict):
    """Fields to change; a limit set to null is lifted, a credential set to null removed."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    models: Names | None = None
    rpm: Rpm | None = None
    max_concurrent: Running | None = None
    max_processes: Running | None = None
    max_sessions: Sessions | None = None
    budget_usd: BudgetUsd | None = None
    budget_period: Literal["day", "month"] | None = None
    token_budget: TokenBudget | None = None
    agent_mode: bool | None = None
    agent: AgentPolicy | None = None
    mcp_servers: Names | None = None
    mcp_urls: Urls | None = None
    hosted_tools: HostedNames | None = None
    request_credentials: bool | None = None
    claude_credential: ClaudeCredentialIn | None = None


POLICY_FIELDS = tuple(Policy.model_fields)


def stored_policy(data: dict[str, Any]) -> Policy:
    """A policy as the store keeps it. One written before the ceilings may hold a number above
    one: it counts as the ceiling (as unlimited as it meant), so that its key keeps working."""
    policy = _clamped(data, CEILINGS)
    if isinstance(policy.get("agent"), dict):
        policy["agent"] = _clamped(policy["agent"], AGENT_CEILINGS)
    return Policy.model_validate(policy)


def _clamped(data: dict[str, Any], ceilings: dict[str, float]) -> dict[str, Any]:
    clamped = dict(data)
    for name, ceiling in ceilings.items():
        value = clamped.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and not value <= ceiling:
            clamped[name] = type(value)(ceiling) if value > ceiling else None  # NaN: no limit, as it acted
    return clamped
