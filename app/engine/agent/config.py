"""Agent mode as the engine runs it: what a request's `claude_code` resolved to under its key's
policy (AgentConfig, part of a process's spawn key), and the Claude Code options it becomes.

Claude Code's own tools run in the conversation's workspace, inside two sandboxes:
- the whole CLI runs in a bubblewrap of the gateway's (sandbox.py), built from an allow-list: the
  system folders read-only (/etc without what is not world-readable), the workspace, the
  process's own config folder and a capped /tmp writable, nothing of the gateway's own, and a cap
  on processes; its stdio MCP servers each get a PID namespace of their own in it;
- Claude Code's own sandbox for Bash (the SDK's `sandbox` settings, bubblewrap and socat on
  Linux), which denies the network but for the key's allowed domains, and
  CLAUDE_CODE_SUBPROCESS_ENV_SCRUB, which keeps the Claude credential out of commands' environment.
That variable makes Claude Code run in its "default" permission mode whatever it is told, so the
permission modes are the gateway's: a PreToolUse hook (permissions.py) decides every tool call,
and also keeps file tools inside the workspace.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import AgentDefinition, HookMatcher
from claude_agent_sdk.types import HookCallback

from ...core.disk.workdir import write_private
from .permissions import ToolGate, inside
from .quota_hook import QuotaHook

# Claude Code's tools when a request names none: those that work on files and run commands, and
# subagents (Task, which CLI 2.1.329 calls Agent). Not the ones that reach outside the workspace on
# their own (WebFetch, WebSearch: the network goes through Bash's sandbox), nor schedulers and
# worktrees. (The bundled CLI offers Glob and Grep as tools of their own: the hook checks them.)
DEFAULT_TOOLS = ("Bash", "Read", "Write", "Edit", "NotebookEdit", "Glob", "Grep", "Task")


@dataclass(frozen=True)
class AgentConfig:
    """A turn's agent mode, resolved (app/agent/policy.py). Hashable: processes are kept per config."""

    tools: tuple[str, ...] = DEFAULT_TOOLS
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    permission_mode: str = "default"
    max_turns: int | None = None
    max_budget_usd: float | None = None
    mcp_servers: str = "{}"  # JSON {name: SDK server config}; headers included (memory only)
    agents: str = "{}"  # JSON {name: {description, prompt, tools, model}}
    fallback_model: str | None = None
    add_dirs: tuple[str, ...] = ()  # relative to the workspace
    allowed_domains: tuple[str, ...] = ()  # the network commands may reach
    workspace_quota: int | None = None  # bytes the key's workspaces may hold (quota_hook.py)
    subagent_models: tuple[str, ...] | None = None  # what the subagent tool's `model` may say; None: any

    @property
    def servers(self) -> dict[str, dict[str, Any]]:
        servers: dict[str, dict[str, Any]] = json.loads(self.mcp_servers)
        return servers

    def sdk_options(self, workspace: Path, system: str | None) -> dict[str, Any]:
        """ClaudeAgentOptions fields for a process of this config in `workspace`."""
        # Each checked at the door before the turn (app/workspaces/paths.py added_folder); here again as
        # the process starts, resolved: one that leads out of the workspace is no folder of Claude's.
        real = os.path.realpath(workspace)
        dirs = [str(workspace / d) for d in self.add_dirs if inside(os.path.realpath(workspace / d), real)]
        gate = ToolGate(self, workspace, [workspace, *map(Path, dirs)])
        # `disallowed_tools` as given and the hook's own denials are refused by Claude Code with
        # the reason, which Claude reads and the client sees in the tool's result.
        return {
            "tools": list(self.tools),
            "allowed_tools": list(self.allowed_tools),
            "disallowed_tools": list(self.disallowed_tools),
            "max_turns": self.max_turns,
            "max_budget_usd": self.max_budget_usd,
            "mcp_servers": self.servers,
            "agents": {name: AgentDefinition(**spec) for name, spec in json.loads(self.agents).items()} or None,
            "fallback_model": self.fallback_model,
            "add_dirs": dirs,
            "system_prompt": {"type": "preset", "preset": "claude_code", "append": system}
            if system
            else {"type": "preset", "preset": "claude_code"},
            "sandbox": {
                "enabled": True,
                "autoAllowBashIfSandboxed": True,
                "allowUnsandboxedCommands": False,
                "network": {"allowedDomains": list(self.allowed_domains)},
            },
            "hooks": {
                "PreToolUse": [HookMatcher(matcher=None, hooks=[cast(HookCallback, gate.hook)])],
                **self._quota_hooks(workspace),
            },
        }

    def _quota_hooks(self, workspace: Path) -> dict[str, list[HookMatcher]]:
        if self.workspace_quota is None:
            return {}
        quota = QuotaHook(workspace.parent, self.workspace_quota)  # the tenant's folder of workspaces
        return {"PostToolUse": [HookMatcher(matcher=None, hooks=[cast(HookCallback, quota.hook)])]}


LOGIN_FILE = ".credentials.json"  # where `claude login` keeps its credential, in the config folder


def share_login(operator_config: Path, config_dir: Path) -> None:
    """The operator's `claude login` (a file in its config folder), copied for an agent process:
    the operator's folder itself stays out of the sandbox. Commands cannot read the copy (the
    config folder is in their sandbox's denyRead, see engine/processes/options.py)."""
    login = operator_config / LOGIN_FILE
    if login.is_file():
        copy = config_dir / LOGIN_FILE
        copy.unlink(missing_ok=True)  # an earlier process's: each starts with the operator's current login
        write_private(copy, login.read_text())


def mcp_config_file(config_dir: Path, servers: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    """The request's MCP servers, with their auth headers and the operator's environment for them,
    in a file of the process's own config folder (the CLI takes more than one --mcp-config): the
    SDK would put them on the command line, which every process on the host reads in /proc, the
    commands of other agent sessions included. As `extra_args`."""
    if not servers:
        return {}
    text = json.dumps({"mcpServers": servers}, sort_keys=True)
    path = config_dir / f"mcp-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    try:  # named by its content: never rewritten while a process starting may be reading it
        write_private(path, text)
    except FileExistsError:
        pass
    return {"mcp-config": str(path)}
