"""Agent mode as the engine runs it: the Claude Code options a turn's AgentConfig (core/agent.py)
becomes, and the files an agent process is given.

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
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import AgentDefinition, HookMatcher
from claude_agent_sdk.types import HookCallback

from ...core.agent import AgentConfig
from ...core.disk.workdir import write_private
from .permissions import ToolGate, inside
from .prompts import PermissionPrompts, Wait
from .quota_hook import QuotaHook


def sdk_options(
    config: AgentConfig, workspace: Path, system: str | None, wait: Wait | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """ClaudeAgentOptions fields for a process of this config in `workspace`, and under
    `permission_prompts` the PermissionPrompts (prompts.py) its hook asks through, if the config
    asks for them and the process has a tool bridge (`wait`): then the hook may wait `timeout` s."""
    # Each checked at the door before the turn (app/workspaces/paths.py added_folder); here again as
    # the process starts, resolved: one that leads out of the workspace is no folder of Claude's.
    real = os.path.realpath(workspace)
    dirs = [str(workspace / d) for d in config.add_dirs if inside(os.path.realpath(workspace / d), real)]
    gate = ToolGate(config, workspace, [workspace, *map(Path, dirs)])
    prompts = PermissionPrompts(gate, wait) if config.permission_prompts and wait is not None else None
    hook = HookMatcher(matcher=None, hooks=[cast(HookCallback, prompts.hook if prompts else gate.hook)])
    if prompts is not None:
        hook.timeout = timeout
    # `disallowed_tools` as given and the hook's own denials are refused by Claude Code with
    # the reason, which Claude reads and the client sees in the tool's result.
    return {
        "tools": list(config.tools),
        "allowed_tools": list(config.allowed_tools),
        "disallowed_tools": list(config.disallowed_tools),
        "max_turns": config.max_turns,
        "max_budget_usd": config.max_budget_usd,
        "mcp_servers": config.servers,
        "agents": {name: AgentDefinition(**spec) for name, spec in json.loads(config.agents).items()} or None,
        "fallback_model": config.fallback_model,
        "add_dirs": dirs,
        "system_prompt": {"type": "preset", "preset": "claude_code", "append": system}
        if system
        else {"type": "preset", "preset": "claude_code"},
        "sandbox": {
            "enabled": True,
            "autoAllowBashIfSandboxed": True,
            "allowUnsandboxedCommands": False,
            "network": {"allowedDomains": list(config.allowed_domains)},
        },
        "hooks": {
            "PreToolUse": [hook],
            **_quota_hooks(config, workspace),
        },
        "permission_prompts": prompts,
    }


def _quota_hooks(config: AgentConfig, workspace: Path) -> dict[str, list[HookMatcher]]:
    if config.workspace_quota is None:
        return {}
    quota = QuotaHook(workspace.parent, config.workspace_quota)  # the tenant's folder of workspaces
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
