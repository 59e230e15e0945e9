"""The gateway's side of agent mode's tool permissions: a PreToolUse hook that decides every tool
call Claude Code makes, whatever Claude Code itself would do (defense in depth, and the home of
the permission modes: see agent.py for why Claude Code's own are not used).

- A tool outside the enabled set, or matching a disallowed rule, is denied.
- A file tool's path must lie in the workspace (or an added folder inside it), symlinks resolved.
- The permission mode decides the rest: `plan` and `dontAsk` allow only tools that read;
  `default` adds Bash (it runs in Claude Code's sandbox); `acceptEdits` adds the editing tools;
  `bypassPermissions` allows every enabled tool. Tools matching an allowed rule, and the tools of
  the MCP servers the request asked for, are allowed in every mode but `plan`.
Rules are Claude Code's: `Name`, `Name(prefix:*)` (Bash: the command starts with prefix),
`Name(glob)` (file tools: the path; others: the JSON input), `mcp__server` for all a server's tools.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import AgentConfig

# Claude Code's subagent tool is `Agent` (CLI 2.1.329: in its tool list and in hooks); `Task`, its
# earlier name, still enables it (`--tools`) and is what clients and policies may say.
TOOL_ALIASES = {"Task": "Agent"}
READING = {"Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite", "Task", "Agent", "ExitPlanMode"}
EDITING = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
PATH_FIELDS = ("file_path", "notebook_path", "path")
BY_MODE = {
    "plan": READING,
    "dontAsk": READING,
    "default": READING | {"Bash"},
    "acceptEdits": READING | {"Bash"} | EDITING,
}


def canonical(tool: str) -> str:
    """A built-in tool's name as Claude Code calls it."""
    return TOOL_ALIASES.get(tool, tool)


def matches(rule: str, tool: str, tool_input: dict[str, Any], cwd: Path) -> bool:
    """Whether a Claude Code permission rule covers this call."""
    name, _, spec = rule.partition("(")
    name, tool = canonical(name), canonical(tool)
    if not spec:
        return tool == name or (name.startswith("mcp__") and tool.startswith(name + "__"))
    if tool != name:
        return False
    spec = spec[:-1] if spec.endswith(")") else spec
    if tool == "Bash":
        command = str(tool_input.get("command", "")).strip()
        if spec.endswith(":*"):
            prefix = spec[:-2]
            return command == prefix or command.startswith(prefix + " ")
        return command == spec
    for field in PATH_FIELDS:
        if field in tool_input:
            path = Path(str(tool_input[field]))
            relative = os.path.relpath(cwd / path, cwd) if not path.is_absolute() else str(path)
            return fnmatch.fnmatch(relative, spec) or fnmatch.fnmatch(str(cwd / path), spec)
    return fnmatch.fnmatch(json.dumps(tool_input, sort_keys=True), spec)


class ToolGate:
    def __init__(self, config: AgentConfig, cwd: Path, roots: list[Path]) -> None:
        self.config = config
        self.cwd = cwd
        self.roots = [Path(os.path.realpath(root)) for root in roots]
        self.servers = set(config.servers)
        self.enabled = {canonical(tool) for tool in config.tools}

    def decide(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        """Why the call is refused, or None to allow it."""
        config = self.config
        builtin = not tool.startswith("mcp__")
        if builtin and canonical(tool) not in self.enabled:
            return f"{tool} is not enabled for this request (claude_code.tools)."
        if any(matches(rule, tool, tool_input, self.cwd) for rule in config.disallowed_tools):
            return f"{tool} is disallowed for this request (claude_code.disallowed_tools)."
        outside = self._outside(tool, tool_input)
        if outside is not None:
            return f"{outside} is outside the session's workspace; file tools work only inside it."
        mode = config.permission_mode
        if mode == "bypassPermissions":
            return None
        if tool in BY_MODE[mode]:
            return None
        if mode != "plan":
            if any(matches(rule, tool, tool_input, self.cwd) for rule in config.allowed_tools):
                return None
            if not builtin and tool.split("__")[1] in self.servers:
                return None
        return f"{tool} needs permission, which the {mode!r} permission mode does not give (claude_code.allowed_tools)."

    def _outside(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        for field in PATH_FIELDS:
            value = tool_input.get(field)
            if isinstance(value, str) and value:
                resolved = Path(os.path.realpath(self.cwd / value))
                if not any(resolved == root or root in resolved.parents for root in self.roots):
                    return value
        pattern = tool_input.get("pattern")  # Glob's pattern is a path; Grep's is a regular expression
        if tool == "Glob" and isinstance(pattern, str) and pattern.startswith("/") and "path" not in tool_input:
            return self._outside(tool, {"path": pattern.split("*")[0] or "/"})
        return None

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        reason = self.decide(tool, dict(hook_input.get("tool_input") or {}))
        decision = {"hookEventName": "PreToolUse", "permissionDecision": "deny" if reason else "allow"}
        if reason:
            decision["permissionDecisionReason"] = reason
        return {"hookSpecificOutput": decision}
