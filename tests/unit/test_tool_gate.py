"""The gateway's PreToolUse decisions (app/engine/agent/permissions.py ToolGate.decide): the permission
modes, Claude Code's rules, and file tools kept inside the workspace, symlinks resolved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.agent import DEFAULT_TOOLS, AgentConfig
from app.engine.agent.permissions import ToolGate
from app.engine.agent.setup import sdk_options

SERVERS = json.dumps({"probe": {"type": "stdio", "command": "probe"}})


def gate(workspace: Path, **config) -> ToolGate:
    config.setdefault("mcp_servers", SERVERS)
    return ToolGate(AgentConfig(**config), workspace, [workspace])


CALLS = {
    "Read": {"file_path": "notes.txt"},
    "Grep": {"pattern": "x"},
    "Bash": {"command": "ls"},
    "Write": {"file_path": "notes.txt", "content": "x"},
    "Edit": {"file_path": "notes.txt", "old_string": "a", "new_string": "b"},
    "Agent": {"description": "d", "prompt": "p"},
    "mcp__probe__lookup": {"key": "k"},
    "mcp__other__lookup": {"key": "k"},
}
#               Read   Grep   Bash   Write  Edit   Agent  probe  other
MODES = {
    "plan": (True, True, False, False, False, True, False, False),
    "dontAsk": (True, True, False, False, False, True, True, False),
    "default": (True, True, True, False, False, True, True, False),
    "acceptEdits": (True, True, True, True, True, True, True, False),
    "bypassPermissions": (True, True, True, True, True, True, True, True),
}


@pytest.mark.parametrize("mode", MODES)
def test_the_permission_modes(tmp_path, mode):
    decide = gate(tmp_path, permission_mode=mode).decide
    allowed = tuple(decide(tool, arguments) is None for tool, arguments in CALLS.items())
    assert dict(zip(CALLS, allowed, strict=True)) == dict(zip(CALLS, MODES[mode], strict=True))


def test_a_subagent_call_may_pick_only_a_model_of_the_keys_list(tmp_path):
    """Claude Code's subagent tool takes a `model` (sonnet, opus, ...) that overrides the agent's."""
    decide = gate(tmp_path, subagent_models=("sonnet",)).decide
    assert "may not use the model 'opus'" in (decide("Agent", {**CALLS["Agent"], "model": "opus"}) or "")
    assert decide("Task", {**CALLS["Agent"], "model": "haiku"}) is not None
    assert decide("Agent", {**CALLS["Agent"], "model": "sonnet"}) is None
    assert decide("Agent", CALLS["Agent"]) is None  # the agent's own model, checked at the door
    assert gate(tmp_path).decide("Agent", {**CALLS["Agent"], "model": "opus"}) is None  # no list: any


def test_a_refusal_says_why(tmp_path):
    reason = gate(tmp_path, permission_mode="plan").decide("Write", CALLS["Write"])
    assert (
        reason == "Write needs permission, which the 'plan' permission mode does not give (claude_code.allowed_tools)."
    )
    assert "not enabled" in (gate(tmp_path, tools=("Read",)).decide("Bash", CALLS["Bash"]) or "")


def test_the_subagent_tool_goes_by_either_name(tmp_path):
    """CLI 2.1.329 calls it Agent; Task, its earlier name, enables it."""
    assert "Task" in DEFAULT_TOOLS and gate(tmp_path).decide("Agent", CALLS["Agent"]) is None
    assert gate(tmp_path, tools=("Agent",)).decide("Agent", CALLS["Agent"]) is None
    assert gate(tmp_path, disallowed_tools=("Task",)).decide("Agent", CALLS["Agent"]) is not None


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("git status", True),
        ("git", True),
        ("gitk", False),
        ("git log; curl http://evil.net", False),
        ("git log && rm -rf x", False),
        ("git log | head", False),
        ("echo $(git log)", False),
        ("sh -c 'git status; cat x'", False),
        ("./git status", False),
        ("PAGER='cat x' git log", False),
        ("git status\ncat x", False),
    ],
)
def test_an_allowed_bash_rule_covers_every_command_of_the_line(tmp_path, command, allowed):
    decide = gate(tmp_path, permission_mode="dontAsk", allowed_tools=("Bash(git:*)",)).decide
    assert (decide("Bash", {"command": command}) is None) == allowed


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf x",
        "echo hi && rm -rf x",
        "ls; rm -rf x",
        "echo $(rm -rf x)",
        "echo `rm -rf x`",
        "true || rm x",
        "/bin/rm x",
        "FOO=1 env rm x",
        "ls\nrm x",
        'sh -c "rm x"',
        "bash -c 'rm x'",
        "eval rm x",
        "'r'm x",
        '"r""m" x',
        "\\rm x",
        "timeout 5 rm x",
        "echo x | xargs rm",
        "find . -exec rm {} +",
        "$X x",
        "sh x.sh",
    ],
)
def test_a_disallowed_bash_rule_covers_any_command_of_the_line(tmp_path, command):
    decide = gate(tmp_path, permission_mode="bypassPermissions", disallowed_tools=("Bash(rm:*)",)).decide
    assert "claude_code.disallowed_tools" in (decide("Bash", {"command": command}) or "")
    assert decide("Bash", {"command": "ls -la; echo rmx"}) is None


def test_path_rules(tmp_path):
    (tmp_path / "src" / "a").mkdir(parents=True)
    decide = gate(tmp_path, permission_mode="dontAsk", allowed_tools=("Write(src/**)",)).decide
    assert decide("Write", {"file_path": "src/a/b.py", "content": ""}) is None
    assert decide("Write", {"file_path": str(tmp_path / "src" / "b.py"), "content": ""}) is None
    assert decide("Write", {"file_path": "other/b.py", "content": ""}) is not None
    assert decide("Write", {"file_path": "src/../other.py", "content": ""}) is not None
    denied = gate(tmp_path, disallowed_tools=("Read(secrets/**)", "Edit(locked/*)")).decide
    assert "disallowed" in (denied("Read", {"file_path": "secrets/key"}) or "")
    assert "disallowed" in (denied("Read", {"file_path": "./secrets//key"}) or "")
    # A Read rule covers every tool that reads, an Edit rule every one that edits (as in Claude Code).
    assert "disallowed" in (denied("Grep", {"pattern": "x", "path": "secrets"}) or "")
    assert "disallowed" in (denied("Glob", {"pattern": "*", "path": "secrets/"}) or "")
    assert "disallowed" in (
        gate(tmp_path, permission_mode="acceptEdits", disallowed_tools=("Edit(locked/*)",)).decide(
            "Write", {"file_path": "locked/a", "content": ""}
        )
        or ""
    )
    assert denied("Read", {"file_path": "public/key"}) is None


def test_mcp_rules(tmp_path):
    decide = gate(tmp_path, permission_mode="dontAsk", allowed_tools=("mcp__other",)).decide
    assert decide("mcp__other__lookup", {}) is None
    assert decide("mcp__otherwise__lookup", {}) is not None
    denied = gate(tmp_path, disallowed_tools=("mcp__probe",)).decide
    assert "disallowed" in (denied("mcp__probe__lookup", {}) or "")
    assert "disallowed" in (
        gate(tmp_path, disallowed_tools=("mcp__probe__lookup",)).decide("mcp__probe__lookup", {}) or ""
    )
    assert gate(tmp_path, disallowed_tools=("mcp__probe__other",)).decide("mcp__probe__lookup", {}) is None


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.txt", "sub/../../outside.txt", "link/passwd", "link"])
def test_file_tools_stay_in_the_workspace(tmp_path, path):
    workspace = tmp_path / "workspace"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "link").symlink_to("/etc")  # a symlink inside, pointing outside
    decide = gate(workspace, permission_mode="bypassPermissions").decide
    for tool, field in (("Read", "file_path"), ("Write", "file_path"), ("Grep", "path"), ("Glob", "path")):
        reason = decide(tool, {field: path, "pattern": "x", "content": ""})
        assert reason is not None and "outside the session's workspace" in reason, (tool, path)


def test_inside_the_workspace_is_fine(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "inner").symlink_to(tmp_path / "sub")
    decide = gate(tmp_path, permission_mode="acceptEdits").decide
    for path in ("a.txt", "sub/a.txt", "inner/a.txt", str(tmp_path / "a.txt"), "sub/../a.txt"):
        assert decide("Write", {"file_path": path, "content": ""}) is None, path
    assert decide("Glob", {"pattern": "/etc/*"}) is not None
    assert decide("Glob", {"pattern": "**/*.py"}) is None


def test_a_path_rule_holds_for_absolute_paths_and_symlinks(tmp_path):
    """`Read(secrets/**)` is relative to the workspace: an absolute path to the same file, or a
    symlink to it, must not get around it; nor may a symlink under an allowed folder lead out of it."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "public").symlink_to(tmp_path / "secrets")
    (tmp_path / "src" / "escape").symlink_to(tmp_path / "secrets")
    denied = gate(tmp_path, disallowed_tools=("Read(secrets/**)",)).decide
    for path in (str(tmp_path / "secrets" / "key"), "public/key"):
        assert "disallowed" in (denied("Read", {"file_path": path}) or ""), path
    allowed = gate(tmp_path, permission_mode="dontAsk", allowed_tools=("Write(src/**)",)).decide
    assert allowed("Write", {"file_path": "src/escape/key", "content": ""}) is not None


def test_an_added_folder_that_leads_out_of_the_workspace_is_dropped_as_the_process_starts(tmp_path):
    """The door refuses such an add_dirs entry (app/workspaces/paths.py added_folder); should a link be
    planted between that check and a process's start, its target still becomes no root."""
    (tmp_path / "real").mkdir()
    (tmp_path / "etclink").symlink_to("/etc")
    options = sdk_options(AgentConfig(add_dirs=("etclink", "real", "later")), tmp_path, None)
    assert options["add_dirs"] == [str(tmp_path / "real"), str(tmp_path / "later")]
    decide = ToolGate(AgentConfig(add_dirs=("etclink",)), tmp_path, [tmp_path, tmp_path / "etclink"]).decide
    assert "outside" in (decide("Read", {"file_path": "/etc/hostname"}) or "")


@pytest.mark.parametrize(
    "call",
    [
        {"pattern": "/etc/*"},
        {"pattern": "/etc/**/host*"},
        {"pattern": "../../*"},
        {"pattern": "sub/../../*"},
        {"pattern": "link/*"},
        {"path": "sub", "pattern": "../../etc/*"},
        {"path": "sub", "pattern": "/etc/*"},
        {"pattern": "/*"},
    ],
)
def test_a_glob_pattern_searches_where_its_fixed_folders_lead(tmp_path, call):
    """Before: a Glob with only a pattern was checked only when it began with `/`, and against
    no Read rule at all; `../../x` or a `path` beside an absolute pattern went through."""
    workspace = tmp_path / "workspace"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "link").symlink_to("/etc")
    reason = gate(workspace, permission_mode="bypassPermissions").decide("Glob", call)
    assert reason is not None and "outside the session's workspace" in reason, call


@pytest.mark.parametrize(
    "call", [{"pattern": "x", "path": "/etc"}, {"pattern": "x", "glob": "../../*"}, {"pattern": "x", "glob": "/etc/*"}]
)
def test_a_grep_glob_searches_where_its_fixed_folders_lead(tmp_path, call):
    reason = gate(tmp_path, permission_mode="bypassPermissions").decide("Grep", call)
    assert reason is not None and "outside the session's workspace" in reason, call


def test_read_deny_rules_hold_for_glob_and_grep_patterns(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "src").mkdir()
    denied = gate(tmp_path, disallowed_tools=("Read(secrets/**)",)).decide
    for tool, call in [
        ("Glob", {"pattern": "secrets/*"}),
        ("Glob", {"pattern": "secrets/**/*.key"}),
        ("Glob", {"pattern": str(tmp_path / "secrets" / "*")}),
        ("Glob", {"pattern": "src/../secrets/*"}),
        ("Grep", {"pattern": "x", "glob": "secrets/*"}),
        ("Grep", {"pattern": "x"}),  # its contents are searched from the workspace down
        ("Grep", {"pattern": "x", "path": "."}),
    ]:
        assert "disallowed" in (denied(tool, call) or ""), (tool, call)
    for tool, call in [
        ("Glob", {"pattern": "src/*.py"}),
        ("Glob", {"pattern": "**/*.py"}),  # names, not contents
        ("Grep", {"pattern": "x", "path": "src"}),
        ("Grep", {"pattern": "x", "glob": "src/*.py"}),
    ]:
        assert denied(tool, call) is None, (tool, call)


def test_webfetch_reaches_only_the_keys_allowed_domains(tmp_path):
    """WebFetch runs in the CLI, outside the sandbox that holds commands to allowed_domains: before,
    a request that enabled it could fetch any URL the gateway's host reaches (its admin API, a
    cloud's metadata service)."""
    decide = gate(tmp_path, tools=("WebFetch",), permission_mode="bypassPermissions").decide
    for url in ("http://127.0.0.1:8000/admin/keys", "http://169.254.169.254/latest/", "https://example.com/"):
        assert "allowed_domains" in (decide("WebFetch", {"url": url, "prompt": "p"}) or ""), url
    decide = gate(
        tmp_path,
        tools=("WebFetch",),
        permission_mode="bypassPermissions",
        allowed_domains=("docs.example.com", "*.python.org"),
    ).decide
    assert decide("WebFetch", {"url": "https://docs.example.com/a", "prompt": "p"}) is None
    assert decide("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "p"}) is None
    for url in ("https://example.com/", "https://docs.example.com.evil.net/", "https://evilpython.org/", "nonsense"):
        assert decide("WebFetch", {"url": url, "prompt": "p"}) is not None, url
