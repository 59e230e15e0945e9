"""A managed key's policy, and the admin API's bodies, as pydantic models: the admin API validates
with them, the store keeps their JSON form, and a resolved caller (auth.Tenant) carries one.

Every limit is optional; None means none. `budget_usd` and `token_budget` count over
`budget_period` (a UTC day or calendar month).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..agent.policy import AgentPolicy


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaudeCredentialIn(Strict):
    """The key owner's own Claude credential: an Anthropic API key, or a subscription OAuth token
    from `claude setup-token`."""

    type: Literal["api_key", "oauth_token"]
    value: str = Field(min_length=1, max_length=10_000)


class Policy(Strict):
    models: list[str] | None = Field(default=None, description="Models the key may use (names or aliases).")
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute.")
    max_concurrent: int | None = Field(default=None, ge=1, description="Turns running at once.")
    max_processes: int | None = Field(default=None, ge=1, description="Claude processes the key may hold.")
    max_sessions: int | None = Field(default=None, ge=1, description="Sessions the key may keep.")
    budget_usd: float | None = Field(default=None, ge=0, description="USD per budget period.")
    budget_period: Literal["day", "month"] = "month"
    token_budget: int | None = Field(default=None, ge=0, description="Tokens per budget period.")
    agent_mode: bool = False
    agent: AgentPolicy | None = Field(default=None, description="Agent mode's caps and defaults (README).")
    mcp_servers: list[str] | None = Field(default=None, description="The gateway's MCP servers it may use; null: all.")
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
    models: list[str] | None = None
    rpm: int | None = Field(default=None, ge=1)
    max_concurrent: int | None = Field(default=None, ge=1)
    max_processes: int | None = Field(default=None, ge=1)
    max_sessions: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, ge=0)
    budget_period: Literal["day", "month"] | None = None
    token_budget: int | None = Field(default=None, ge=0)
    agent_mode: bool | None = None
    agent: AgentPolicy | None = None
    mcp_servers: list[str] | None = None
    request_credentials: bool | None = None
    claude_credential: ClaudeCredentialIn | None = None


POLICY_FIELDS = tuple(Policy.model_fields)
