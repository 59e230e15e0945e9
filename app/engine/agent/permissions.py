"""The gateway's side of agent mode's tool permissions: a PreToolUse hook that decides every tool
call Claude Code makes, whatever Claude Code itself would do (defense in depth, and the home of
the permission modes: see setup.py for why Claude Code's own are not used).

- A tool outside the enabled set, or matching a disallowed rule, is denied.
- A file tool's path must lie in the workspace (or an added folder inside it), symlinks resolved.
- The permission mode decides the rest: `plan` and `dontAsk` allow only tools that read;
  `default` adds Bash (it runs in Claude Code's sandbox); `acceptEdits` adds the editing tools;
  `bypassPermissions` allows every enabled tool. Tools matching an allowed rule, and the tools of
  the MCP servers the request asked for, are allowed in every mode but `plan`.
Rules are Claude Code's: `Name`, `Name(prefix:*)` (Bash: the command starts with prefix; each
command of a command line as a shell reads it, those that `sh -c`, `eval`, `xargs`... run
included: bash_rules.py), `Name(glob)` (file tools: the path, Read and Edit rules covering every
tool that reads or edits; others: the JSON input), `mcp__server` for all a server's tools.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...core.agent import AgentConfig
from .bash_rules import covers, verdict
from .shell import parse

# Claude Code's subagent tool is `Agent` (CLI 2.1.329: in its tool list and in hooks); `Task`, its
# earlier name, still enables it (`--tools`) and is what clients and policies may say.
TOOL_ALIASES = {"Task": "Agent"}
READING = {"Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite", "Task", "Agent", "ExitPlanMode"}
EDITING = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
PATH_FIELDS = ("file_path", "notebook_path", "path")
# As in Claude Code: a Read rule applies to every tool that reads files, an Edit rule to every one that edits.
RULE_FAMILIES = {"Read": ("Glob", "Grep", "LS", "NotebookRead"), "Edit": ("Write", "MultiEdit", "NotebookEdit")}
FOLDER_TOOLS = {"Glob", "Grep", "LS"}
BY_MODE = {
    "plan": READING,
    "dontAsk": READING,
    "default": READING | {"Bash"},
    "acceptEdits": READING | {"Bash"} | EDITING,
}


def canonical(tool: str) -> str:
    """A built-in tool's name as Claude Code calls it."""
    return TOOL_ALIASES.get(tool, tool)


def matches(rule: str, tool: str, tool_input: dict[str, Any], cwd: Path, deny: bool = False) -> bool:
    """Whether a Claude Code permission rule covers this call. A Bash command line is checked
    command by command: a deny rule covers it if it covers any of them, an allow rule if every one."""
    name, _, spec = rule.partition("(")
    name, tool = canonical(name), canonical(tool)
    if not spec:
        return tool == name or (name.startswith("mcp__") and tool.startswith(name + "__"))
    if tool != name and tool not in RULE_FAMILIES.get(name, ()):
        return False
    spec = spec[:-1] if spec.endswith(")") else spec
    if tool == "Bash":
        return covers(spec, str(tool_input.get("command", "")), deny)
    base = search_base(tool, tool_input)
    for value in [base] if base is not None else [tool_input[f] for f in PATH_FIELDS if f in tool_input][:1]:
        found = [
            _path_matches(spec, form, deny and tool in FOLDER_TOOLS, deny and tool == "Grep")
            for form in _forms(cwd, value)
        ]
        return any(found) if deny else all(found)
    return fnmatch.fnmatch(json.dumps(tool_input, sort_keys=True), spec)


def search_base(tool: str, tool_input: dict[str, Any]) -> str | None:
    """Where a Glob or Grep call searches: its `path` (the workspace if none) and the fixed leading
    folders of its file pattern (Glob's `pattern`, Grep's `glob`): `/etc/**` or `../../x/*`
    search outside whatever the path says. None for other tools."""
    if tool not in ("Glob", "Grep"):
        return None
    path, pattern = tool_input.get("path"), tool_input.get("pattern" if tool == "Glob" else "glob")
    root = path if isinstance(path, str) and path else "."
    return os.path.join(root, fixed_folders(pattern)) if isinstance(pattern, str) else root


def fixed_folders(pattern: str, last: bool = False) -> str:
    """The leading folders of a glob pattern that hold no wildcard (`src/a` of `src/a/*.py`; `/`
    of `/*`), with the last name too if it holds none and `last`."""
    names = pattern.split("/")
    fixed = []
    for name in names if last else names[:-1]:
        if any(c in name for c in "*?[{"):
            break
        fixed.append(name)
    return "/".join(fixed) or ("/" if pattern.startswith("/") else "")


def _forms(cwd: Path, value: Any) -> list[tuple[str, str]]:
    """A path as written and as it resolves (symlinks followed), each relative to the workspace
    and absolute: a rule must hold for both, or a symlink inside would lead around it."""
    written = os.path.normpath(cwd / str(value))
    resolved = os.path.realpath(written)
    return [(os.path.relpath(form, base), form) for form, base in ((written, cwd), (resolved, os.path.realpath(cwd)))]


def _path_matches(spec: str, forms: tuple[str, str], folder: bool, reads: bool = False) -> bool:
    candidates = list(forms)
    if folder:  # a search in a folder reaches the files below it
        candidates += [candidate.rstrip("/") + "/" for candidate in candidates]
    if reads and any(_holds(candidate, fixed_folders(spec, last=True)) for candidate in forms):
        return True  # a search of file contents (Grep) in a folder that holds what the rule covers
    return any(fnmatch.fnmatch(candidate, spec) for candidate in candidates)


def _holds(folder: str, area: str) -> bool:
    """Whether `area` (a rule's fixed leading folders: all of the workspace if none) lies in `folder`."""
    if folder.startswith("/") != area.startswith("/") and area:
        return False
    folder = "" if folder == "." else folder.rstrip("/")
    return not folder or area == folder or area.startswith(folder + "/")


def reachable(url: str, domains: tuple[str, ...]) -> bool:
    """Whether `url` is on a host of `domains` (`example.com`, or `*.example.com` for the hosts
    below it), as Claude Code's sandbox holds commands' network: WebFetch runs in the CLI itself,
    outside that sandbox, and would reach the gateway's own network (its admin API, a cloud's
    metadata service) if the hook did not hold it too."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    return bool(host) and any(
        host == domain.lower() or (domain.startswith("*.") and host.endswith(domain[1:].lower())) for domain in domains
    )


def inside(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it (both already resolved)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


class ToolGate:
    def __init__(self, config: AgentConfig, cwd: Path, roots: list[Path]) -> None:
        self.config = config
        self.cwd = cwd
        # The workspace and its added folders, resolved once; one that resolves out of the
        # workspace (a link planted there) is none.
        real = os.path.realpath(cwd)
        self.roots = [Path(path) for path in map(os.path.realpath, roots) if inside(path, real)]
        self.servers = set(config.servers)
        self.enabled = {canonical(tool) for tool in config.tools}

    def decide(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        """Why the call is refused, or None to allow it."""
        refusal = self.refusal(tool, tool_input)
        if refusal is not None or self.mode_gives(tool, tool_input):
            return refusal
        mode = self.config.permission_mode
        return f"{tool} needs permission, which the {mode!r} permission mode does not give (claude_code.allowed_tools)."

    def refusal(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        """Why the call is refused whatever the permission mode (no prompt asks about these)."""
        config = self.config
        builtin = not tool.startswith("mcp__")
        if builtin and canonical(tool) not in self.enabled:
            return f"{tool} is not enabled for this request (claude_code.tools)."
        if tool == "Bash" and (doubt := self._bash_doubt(str(tool_input.get("command", "")))):
            return doubt
        if any(matches(rule, tool, tool_input, self.cwd, deny=True) for rule in config.disallowed_tools):
            return f"{tool} is disallowed for this request (claude_code.disallowed_tools)."
        model = tool_input.get("model") if canonical(tool) == "Agent" else None
        if model is not None and config.subagent_models is not None and model not in config.subagent_models:
            return f"{tool}: this API key may not use the model {model!r} (its models list); leave `model` out."
        if tool == "WebFetch" and not reachable(str(tool_input.get("url", "")), config.allowed_domains):
            return (
                f"WebFetch may reach only the hosts this key allows (its agent policy's allowed_domains: "
                f"{', '.join(config.allowed_domains) or 'none'})."
            )
        outside = self._outside(tool, tool_input)
        if outside is not None:
            return f"{outside} is outside the session's workspace; file tools work only inside it."
        return None

    def mode_gives(self, tool: str, tool_input: dict[str, Any]) -> bool:
        """Whether the permission mode (with the allowed rules) gives a call no refusal covers."""
        mode = self.config.permission_mode
        if mode == "bypassPermissions" or tool in BY_MODE[mode]:
            return True
        if mode == "plan":
            return False
        if any(matches(rule, tool, tool_input, self.cwd) for rule in self.config.allowed_tools):
            return True
        return tool.startswith("mcp__") and tool.split("__")[1] in self.servers

    def _bash_doubt(self, line: str) -> str | None:
        """Why a command line is refused when a Bash deny rule may cover it but the hook cannot
        tell (`sh script.sh`, `$CMD x`): said to Claude, which can write it plainly."""
        for rule in self.config.disallowed_tools:
            name, _, spec = rule.partition("(")
            if canonical(name) == "Bash" and spec:
                why = verdict(spec[:-1] if spec.endswith(")") else spec, parse(line), deny=True)
                if isinstance(why, str):
                    return (
                        f"Bash: this command line cannot be checked against the rule {rule} "
                        f"(claude_code.disallowed_tools): {why}. Run each program by its own name, "
                        "with its arguments written out."
                    )
        return None

    def _outside(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        for field in PATH_FIELDS:
            value = tool_input.get(field)
            if isinstance(value, str) and value:
                resolved = Path(os.path.realpath(self.cwd / value))
                if not any(resolved == root or root in resolved.parents for root in self.roots):
                    return value
        base = search_base(tool, tool_input)
        return self._outside("", {"path": base}) if base is not None else None

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        reason = self.decide(tool, dict(hook_input.get("tool_input") or {}))
        decision = {"hookEventName": "PreToolUse", "permissionDecision": "deny" if reason else "allow"}
        if reason:
            decision["permissionDecisionReason"] = reason
        return {"hookSpecificOutput": decision}
