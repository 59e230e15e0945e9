"""Agent mode as a turn carries it: what a request's `claude_code` resolved to under its key's
policy (app/agent/policy.py). Part of a process's spawn key, so it is hashable; the Claude Code
options it becomes are the engine's (engine/agent/setup.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Claude Code's tools when a request names none: those that work on files and run commands, and
# subagents (Task, which CLI 2.1.329 calls Agent). Not the ones that reach outside the workspace on
# their own (WebFetch, WebSearch: the network goes through Bash's sandbox), nor schedulers and
# worktrees. (The bundled CLI offers Glob and Grep as tools of their own: the hook checks them.)
DEFAULT_TOOLS = ("Bash", "Read", "Write", "Edit", "NotebookEdit", "Glob", "Grep", "Task")
# Permission prompts (engine/agent/prompts.py): a call the permission mode does not give goes to the
# client as a call of this function, {"tool": <Claude Code's tool>, "input": {...}}; its result is the
# client's answer (Responses shows it as an `mcp_approval_request` of this server label instead).
PERMISSION_FUNCTION = "claude_code_permission"
PERMISSION_SERVER = "claude_code"


@dataclass(frozen=True)
class AgentConfig:
    """A turn's agent mode, resolved (app/agent/policy.py). Hashable: processes are kept per config."""

    tools: tuple[str, ...] = DEFAULT_TOOLS
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    permission_mode: str = "default"
    permission_prompts: bool = False  # a call the mode does not give waits for the client's answer
    max_turns: int | None = None
    max_budget_usd: float | None = None
    mcp_servers: str = "{}"  # JSON {name: SDK server config}; headers included (memory only)
    agents: str = "{}"  # JSON {name: {description, prompt, tools, model}}
    fallback_model: str | None = None
    add_dirs: tuple[str, ...] = ()  # relative to the workspace
    allowed_domains: tuple[str, ...] = ()  # the network commands may reach
    workspace_quota: int | None = None  # bytes the key's workspaces may hold (engine/agent/quota_hook.py)
    subagent_models: tuple[str, ...] | None = None  # what the subagent tool's `model` may say; None: any

    @property
    def servers(self) -> dict[str, dict[str, Any]]:
        servers: dict[str, dict[str, Any]] = json.loads(self.mcp_servers)
        return servers
