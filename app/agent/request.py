"""The `claude_code` object a request carries on any of the three doors to run in agent mode:
Claude Code's own tools in the session's workspace, under the caller's key's policy (policy.py).
Without it, a request stays in chat mode."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.wire import ModelName

PermissionModeName = Literal["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"]
# A built-in tool's name (Bash, Read, ...), or a rule in Claude Code's form: `Bash(git:*)`, `Read(src/**)`.
ToolRule = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+(\(.*\))?$")]
ToolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ServerName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
RelativePath = Annotated[str, Field(min_length=1, max_length=1024)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class McpServerIn(Strict):
    """One of the key's own MCP servers, reached over HTTP or SSE with its own auth headers."""

    name: ServerName
    type: Literal["http", "sse"]
    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://")
    headers: dict[str, Annotated[str, Field(max_length=8192)]] | None = Field(default=None, max_length=32)


class AgentIn(Strict):
    """A custom subagent Claude can hand work to."""

    description: str = Field(min_length=1, max_length=2000)
    prompt: str = Field(min_length=1, max_length=100_000)
    tools: list[ToolRule] | None = Field(default=None, max_length=64)
    model: ModelName | None = None


class ClaudeCodeRequest(Strict):
    tools: list[ToolName] | None = Field(default=None, max_length=64, description="Built-in tools to enable.")
    allowed_tools: list[ToolRule] | None = Field(default=None, max_length=128)
    disallowed_tools: list[ToolRule] | None = Field(default=None, max_length=128)
    permission_mode: PermissionModeName | None = None
    permission_prompts: bool | None = Field(
        default=None, description="Ask the client about a call the permission mode does not give, not refuse it."
    )
    max_turns: int | None = Field(default=None, ge=1, le=1000)
    max_budget_usd: float | None = Field(default=None, gt=0, le=1_000_000)
    mcp_servers: list[ServerName | McpServerIn] | None = Field(default=None, max_length=32)
    agents: dict[ServerName, AgentIn] | None = Field(default=None, max_length=32)
    fallback_model: ModelName | None = None
    add_dirs: list[RelativePath] | None = Field(default=None, max_length=16)
