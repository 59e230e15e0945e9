"""Agent mode's tools end to end on the real CLI: MCP servers (the operator's stdio one, a key's own
HTTP one with its auth header), a subagent, the fallback model, and tools refused by the key's
rules and the permission mode. The fake upstream runs `TOOL:Name {...}` prompt lines as tool calls.

The CLI runs in the gateway's bubblewrap (app/engine/agent/sandbox.py), and so do the stdio MCP servers
it starts: their command and every file they read must be in sight there, which only the system
folders and GATEWAY_AGENT_READ_DIRS are. So the probe server runs from a copy under /var/tmp named
in that setting, on a Python interpreter under /usr.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.remote_mcp import RemoteMcp
from tests.fakes.upstream import Reply, echo
from tests.support import ROOT, GatewayServer, command_line

pytestmark = pytest.mark.e2e

PROBE = ROOT / "tests" / "fakes" / "probe_mcp.py"
ADMIN_KEY = "admin-" + uuid.uuid4().hex
# Claude Code falls back to `fallback_model` after 3 overloaded answers in a row (CLI 2.1.329), that
# is on its second retry: CLAUDE_CODE_MAX_RETRIES=0 (the e2e default) never gets there. Its waits
# between retries cut short.
FALLBACK_RETRIES = {
    "CLAUDE_CODE_MAX_RETRIES": "2",
    "CLAUDE_CODE_OVERLOADED_RETRY_BASE_DELAY_MS": "1",
    "CLAUDE_CODE_OVERLOADED_RETRY_MAX_DELAY_MS": "10",
}
OUT_OF_SIGHT = (Path.home(), Path("/tmp"))  # of the folders the sandbox hides, those a test's files may be in


def in_sight(path: str) -> bool:
    real = Path(os.path.realpath(path))
    return not any(real == folder or folder in real.parents for folder in OUT_OF_SIGHT)


def sandbox_python() -> str:
    """A Python interpreter the sandbox can see: the tests' own unless it lives in a hidden folder
    (pyenv, uv: the home folder), else the system's."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if candidate and in_sight(candidate):
            return os.path.realpath(candidate)
    pytest.skip("no Python interpreter outside the folders the agent sandbox hides")


@pytest.fixture(scope="module")
def probe_folder():
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="gateway-probe-") as folder:
        shutil.copy(PROBE, folder)
        os.chmod(folder, 0o755)
        yield Path(folder)


@pytest.fixture(scope="module")
def tools_gateway(upstream, cli_config_dir, tmp_path_factory, probe_folder):
    """Agent mode on for the static key; an admin key for managed keys; the operator's MCP servers."""
    data = tmp_path_factory.mktemp("tools-data")
    (data / "secret.txt").write_text("the gateway's own")
    config = tmp_path_factory.mktemp("tools-config") / "mcp.json"
    probe = {
        "type": "stdio",
        "command": sandbox_python(),
        "args": [str(probe_folder / PROBE.name)],
        "env": {"PROBE_HIDDEN": str(data / "secret.txt")},
    }
    config.write_text(json.dumps({"mcpServers": {"probe": probe}}))
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY, **FALLBACK_RETRIES}
    settings = {"agent_mode": "true", "admin_key": ADMIN_KEY, "data_dir": str(data), "mcp_config": str(config)}
    settings["agent_read_dirs"] = str(probe_folder)  # the sandbox shows it (an allow-list)
    env.update({f"GATEWAY_{name.upper()}": value for name, value in settings.items()})
    server = GatewayServer(env, tmp_path_factory.mktemp("tools-gateway")).start()
    yield server
    server.stop()


def tool(name: str, **arguments) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def chat(gateway, prompt: str, claude_code: dict, key: str = API_KEY, **extra) -> httpx.Response:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": prompt}], "claude_code": claude_code, **extra}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def refused(response: httpx.Response, param: str) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["code"] == "agent_policy_denied", error
    return error["message"]


def new_key(gateway, **policy) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    name = f"key-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": name, **policy}, headers=admin, timeout=10)
    assert created.status_code == 201, created.text
    return created.json()["key"]


# --- the operator's stdio MCP server --------------------------------------------------------


def test_an_operator_stdio_mcp_server_is_called_inside_the_sandbox(tools_gateway, fake):
    response = chat(tools_gateway, tool("mcp__probe__lookup", key="alpha"), {"mcp_servers": ["probe"]})
    text = answer(response)
    assert "lookup(alpha) = 42" in text, text
    # It ran in the sandbox: /etc/shadow is empty there, the gateway's data folder out of sight,
    # and its working folder is the conversation's workspace.
    assert "shadow=0B" in text and "hidden=absent" in text, text
    assert "credential=unset" in text, text  # nor does it get the Claude credential
    cwd = text.split("cwd=")[1].split()[0]
    assert cwd.startswith((tools_gateway.env["GATEWAY_DATA_DIR"], tools_gateway.env["GATEWAY_WORK_DIR"])), cwd
    offered = [t["name"] for t in fake.requests[0]["tools"]]
    assert "mcp__probe__lookup" in offered, offered


def test_a_server_outside_the_operators_list_is_refused(tools_gateway, fake):
    message = refused(chat(tools_gateway, "hi", {"mcp_servers": ["elsewhere"]}), "claude_code.mcp_servers")
    assert "elsewhere" in message
    key = new_key(tools_gateway, agent_mode=True, mcp_servers=[])
    refused(chat(tools_gateway, "hi", {"mcp_servers": ["probe"]}, key=key), "claude_code.mcp_servers")
    assert fake.requests == []


# --- a key's own HTTP MCP server with its auth header -------------------------------------


@pytest.fixture(scope="module")
def remote_server_process():
    server = RemoteMcp(token="t0ken").start()
    yield server
    server.stop()


@pytest.fixture
def remote(remote_server_process):
    remote_server_process.headers.clear()
    remote_server_process.calls.clear()
    return remote_server_process


def remote_server(url: str, token: str = "t0ken") -> dict:
    return {"name": "remote", "type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}


def test_a_keys_http_mcp_server_is_called_with_its_auth_header(tools_gateway, fake, remote):
    key = new_key(tools_gateway, agent_mode=True, agent={"mcp_urls": [f"http://127.0.0.1:{remote.port}/"]})
    prompt = tool("mcp__remote__facts", topic="sky")
    text = answer(chat(tools_gateway, prompt, {"mcp_servers": [remote_server(remote.url)]}, key=key))
    assert "remote facts about sky: it is blue" in text, text
    assert remote.calls == [{"tool": "facts", "arguments": {"topic": "sky"}}]
    # Every request the CLI made carried the header; none was refused. Claude Code's sandbox of
    # commands (network denied) does not apply to the CLI's own connection to the server.
    assert remote.headers and set(remote.headers) == {"Bearer t0ken"}, remote.headers
    assert "t0ken" not in json.dumps(fake.requests)  # the header stays between the CLI and the server
    # and off the CLI's command line, which every user of the host can read (ps)
    assert [pid for pid in tools_gateway.children() if b"t0ken" in command_line(pid)] == []


def test_a_keys_http_mcp_server_outside_its_urls_is_refused(tools_gateway, fake, remote):
    key = new_key(tools_gateway, agent_mode=True, agent={"mcp_urls": [f"http://127.0.0.1:{remote.port}/"]})
    for url in (f"http://127.0.0.1:{remote.port + 1}/mcp", f"http://127.0.0.1:{remote.port}0/mcp", "http://localhost/"):
        response = chat(tools_gateway, "hi", {"mcp_servers": [remote_server(url)]}, key=key)
        assert url in refused(response, "claude_code.mcp_servers")
    # The static key's policy (GATEWAY_AGENT_POLICY, empty here) allows no URL at all.
    refused(chat(tools_gateway, "hi", {"mcp_servers": [remote_server(remote.url)]}), "claude_code.mcp_servers")
    assert fake.requests == [] and remote.calls == []


# --- a subagent ---------------------------------------------------------------------------

REVIEWER = {
    "description": "Reviews text for typos.",
    "prompt": "You are REVIEWER-7, a careful proofreader.",
    "tools": ["Read"],
}


def reviewer_answers(body: dict) -> Reply:
    """The subagent's own model calls carry its prompt in their system prompt."""
    if "REVIEWER-7" in json.dumps(body.get("system")):
        return Reply(text="reviewer found 1 typo: teh")
    return echo(body)


def test_a_subagent_is_invoked(tools_gateway, fake):
    """Claude Code's subagent tool is `Agent` (CLI 2.1.329), with `subagent_type`, `description`
    and `prompt`. Its subagents run in the background unless `run_in_background` is false, which
    Claude leaves out: the gateway turns background tasks off, so the turn waits for the result."""
    fake.default = reviewer_answers
    call = tool("Agent", subagent_type="reviewer", description="Proofread", prompt="Proofread: teh cat")
    text = answer(chat(tools_gateway, call, {"agents": {"reviewer": REVIEWER}}))
    assert "reviewer found 1 typo: teh" in text, text
    main, sub = fake.requests[0], fake.requests[1]
    assert "Agent" in [t["name"] for t in main["tools"]]
    assert "reviewer: Reviews text for typos." in json.dumps(main["messages"])  # the agent types, as a reminder
    assert "REVIEWER-7" in json.dumps(sub["system"]) and [t["name"] for t in sub["tools"]] == ["Read"]
    assert "Proofread: teh cat" in json.dumps(sub["messages"])


def test_a_key_without_subagents_is_refused(tools_gateway, fake):
    key = new_key(tools_gateway, agent_mode=True, agent={"agents": False})
    refused(chat(tools_gateway, "hi", {"agents": {"reviewer": REVIEWER}}, key=key), "claude_code.agents")
    assert fake.requests == []


# --- the fallback model -------------------------------------------------------------------

OVERLOADED = Reply(status=529, error_type="overloaded_error", error_message="Overloaded")


def test_the_fallback_model_answers_when_the_first_is_overloaded(tools_gateway, fake):
    fake.by_model["opus"] = OVERLOADED
    response = chat(tools_gateway, "hello there", {"fallback_model": "sonnet"}, model="opus")
    assert answer(response) == "echo: hello there"
    models = [body["model"] for body in fake.requests]
    assert len(models) == 4 and all("opus" in model for model in models[:3]) and "sonnet" in models[3], models


# --- tools refused ------------------------------------------------------------------------


def test_a_disallowed_command_is_refused_and_the_refusal_reported(tools_gateway, fake):
    commands = ["rm -rf nothing; echo RAN-1", "echo hi; rm -rf nothing; echo RAN-2", "ls -A; echo RAN-3"]
    prompt = "\n".join(tool("Bash", command=command, description="probe") for command in commands)
    claude_code = {"tools": ["Read", "Bash"], "disallowed_tools": ["Bash(rm:*)"]}
    results = answer(chat(tools_gateway, prompt, claude_code)).removeprefix("results: ").split(" | ")
    refusal = "Bash is disallowed for this request (claude_code.disallowed_tools)."
    assert refusal in results[0] and refusal in results[1], results
    assert "RAN-1" not in results[0] and "RAN-2" not in results[1]
    assert "RAN-3" in results[2]  # other commands run


def test_the_plan_mode_refuses_a_write_and_says_why(tools_gateway, fake):
    prompt = "\n".join([tool("Write", file_path="plan.txt", content="x"), tool("Read", file_path="plan.txt")])
    results = answer(chat(tools_gateway, prompt, {"permission_mode": "plan"})).removeprefix("results: ").split(" | ")
    assert "Write needs permission, which the 'plan' permission mode does not give" in results[0], results
    assert "does not exist" in results[1], results


# --- the operator's login, copied for agent processes --------------------------------------


@pytest.fixture(scope="module")
def login_gateway(upstream, tmp_path_factory):
    """A gateway whose operator is logged in with `claude login` (a subscription's OAuth token)."""
    config = tmp_path_factory.mktemp("login-config")
    login = {"claudeAiOauth": {"accessToken": "LOGIN-SECRET-1", "refreshToken": "REFRESH-SECRET-1"}}
    (config / ".credentials.json").write_text(json.dumps(login))
    env = {**upstream.cli_env(str(config)), "GATEWAY_API_KEYS": API_KEY, "GATEWAY_AGENT_MODE": "true"}
    server = GatewayServer(env, tmp_path_factory.mktemp("login-gateway")).start()
    yield server
    server.stop()


def test_commands_cannot_read_the_operators_login(login_gateway, fake):
    """Each agent process gets a copy of the login in its own config folder: its commands read
    it (before: any caller's `cat` printed the operator's OAuth tokens), and a second process of
    the same conversation failed with a 500 (the copy was already there)."""
    data = login_gateway.env["GATEWAY_DATA_DIR"]
    command = f"cat {data}/agent-config/*/.credentials.json; ls -A {data}/agent-config/* | wc -l"
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Session-Id": "login-session"}
    for mode in ("acceptEdits", "default"):  # two processes for one conversation
        body = {
            "model": "sonnet",
            "messages": [{"role": "user", "content": tool("Bash", command=command, description="probe")}],
            "claude_code": {"permission_mode": mode},
        }
        response = httpx.post(f"{login_gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=120)
        text = answer(response)
        assert "SECRET" not in text and "No such file or directory" in text, text
        assert text.rstrip().endswith("0"), text  # the config folder looks empty


# --- a key's models list binds subagents -----------------------------------------------------


def test_a_subagent_never_reaches_a_model_outside_the_keys_list(tools_gateway, fake):
    """Before: a key limited to sonnet had `claude_code.agents.x.model: "opus"` reach the upstream
    as Opus. Now that is a 403 naming the field, and a call of the subagent tool that picks Opus
    itself is refused by the permission hook: the upstream sees only sonnet."""
    fake.default = reviewer_answers
    key = new_key(tools_gateway, agent_mode=True, models=["sonnet"])
    opus = {"agents": {"reviewer": {**REVIEWER, "model": "opus"}}}
    assert "opus" in refused(chat(tools_gateway, "hi", opus, key=key), "claude_code.agents.reviewer.model")
    assert fake.requests == []
    calls = [
        tool("Agent", subagent_type="reviewer", description="Proofread", prompt="Proofread: teh", model="opus"),
        tool("Agent", subagent_type="reviewer", description="Proofread", prompt="Proofread: teh"),
    ]
    sonnet = {"agents": {"reviewer": {**REVIEWER, "model": "sonnet"}}}
    results = answer(chat(tools_gateway, "\n".join(calls), sonnet, key=key)).removeprefix("results: ").split(" | ")
    assert "may not use the model 'opus'" in results[0], results
    assert "reviewer found 1 typo" in results[1], results
    models = [body["model"] for body in fake.requests]
    assert len(models) >= 3 and all("sonnet" in model for model in models), models


# --- Bash deny rules hold inside other commands ----------------------------------------------


def test_a_bash_deny_rule_holds_inside_sh_c_and_quoting(tools_gateway, fake):
    """Before: under Bash(cat:*), `cat /etc/hostname` was refused but `sh -c "cat /etc/hostname"` ran."""
    commands = [
        'sh -c "cat /etc/hostname"; echo RAN-1',
        "'c'at /etc/hostname; echo RAN-2",
        "echo /etc/hostname | xargs cat; echo RAN-3",
        "X=cat; $X /etc/hostname; echo RAN-4",
        "echo fine-5",
    ]
    prompt = "\n".join(tool("Bash", command=command, description="probe") for command in commands)
    claude_code = {"tools": ["Bash"], "disallowed_tools": ["Bash(cat:*)"]}
    results = answer(chat(tools_gateway, prompt, claude_code)).removeprefix("results: ").split(" | ")
    for n, result in enumerate(results[:4], 1):
        assert "claude_code.disallowed_tools" in result and f"RAN-{n}" not in result, results
    assert "cannot be checked against the rule Bash(cat:*)" in results[3], results[3]
    assert "fine-5" in results[4], results


def test_a_bash_allow_rule_is_not_widened_by_a_second_command(tools_gateway, fake):
    commands = ["echo one; cat /etc/hostname", "sh -c 'echo two'", "echo three"]
    prompt = "\n".join(tool("Bash", command=command, description="probe") for command in commands)
    claude_code = {"tools": ["Bash"], "permission_mode": "dontAsk", "allowed_tools": ["Bash(echo:*)"]}
    results = answer(chat(tools_gateway, prompt, claude_code)).removeprefix("results: ").split(" | ")
    assert "needs permission" in results[0] and "one" not in results[0].split("needs permission")[0], results
    assert "needs permission" in results[1], results
    assert results[2].strip().endswith("three"), results
