"""Agent mode end to end: the real CLI runs Claude Code's own tools (scripted by the fake upstream
as `TOOL:Name {...}` lines) in a sandboxed workspace, behind a real gateway server."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import API_KEY, serve


@pytest.fixture(scope="module")
def agent_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "agent-gateway", agent_mode="true")


def chat(gateway, prompt: str, claude_code: dict | None = None, session: str | None = None, **extra) -> httpx.Response:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": prompt}], **extra}
    if claude_code is not None:
        body["claude_code"] = claude_code
    headers = {"Authorization": f"Bearer {API_KEY}"} | ({"X-Session-Id": session} if session else {})
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def tool(name: str, **arguments) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def test_a_write_then_a_read_runs_in_the_workspace(agent_gateway, fake):
    prompt = "\n".join(
        [tool("Write", file_path="notes.txt", content="hello agent"), tool("Read", file_path="notes.txt")]
    )
    response = chat(agent_gateway, prompt, {"permission_mode": "acceptEdits"})
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert "hello agent" in message["content"], message


def run_commands(gateway, *commands: str, **claude_code) -> str:
    """The answer to a turn that runs each command with Bash: `results: out1 | out2 ...`."""
    prompt = "\n".join(tool("Bash", command=command, description="probe") for command in commands)
    response = chat(gateway, prompt, {"permission_mode": "acceptEdits", **claude_code})
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_commands_cannot_read_secrets_or_reach_the_network(agent_gateway, fake, cli_config_dir):
    data = agent_gateway.env["GATEWAY_DATA_DIR"]
    answer = run_commands(
        agent_gateway,
        "cat /etc/shadow; echo shadow-done",
        'echo "KEY=[$ANTHROPIC_API_KEY]"; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c sk-ant-fake',
        f"ls -A {cli_config_dir} | wc -l; ls -A {data}; find {agent_gateway.env['GATEWAY_WORK_DIR']} | head",
        "curl -sS -m 5 http://example.com/ 2>&1 | head -3",
    )
    results = answer.removeprefix("results: ").split(" | ")
    assert "root:" not in results[0] and "shadow-done" in results[0]
    assert "KEY=[]" in results[1] and "sk-ant-fake" not in answer
    # The host's Claude config folder is empty; of the data folder (store, workspaces) and the work
    # folder (the launcher, other conversations) only the way to this process's own folders shows.
    seen = results[2].split()
    assert seen[:2] == ["0", "agent-config"], seen
    assert not [path for path in seen if "launcher" in path or "gateway.db" in path], seen
    assert "blocked by network allowlist" in results[3], results[3]


def test_nothing_outside_the_workspace_can_be_written(agent_gateway, fake, tmp_path):
    target = tmp_path / "escape.txt"
    answer = run_commands(agent_gateway, f"echo x > {target}; echo rc=$?", "echo x > /usr/escape.txt; echo rc=$?")
    assert not target.exists()
    assert answer.count("rc=1") == 2 and "Read-only file system" in answer, answer
    prompt = tool("Write", file_path=str(target), content="x")
    response = chat(agent_gateway, prompt, {"permission_mode": "bypassPermissions"})
    assert response.status_code == 403 and response.json()["error"]["param"] == "claude_code.permission_mode"
    response = chat(agent_gateway, prompt, {"permission_mode": "acceptEdits"})
    assert "outside the session's workspace" in response.json()["choices"][0]["message"]["content"]
    assert not target.exists()


def test_a_fork_bomb_meets_the_process_cap(agent_gateway, fake):
    bomb = (
        "timeout 20 sh -c 'i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i+1)); done; wait' 2>&1"
        " | sort | uniq -c | head -3"
    )
    answer = run_commands(agent_gateway, bomb, "echo still-here")
    assert "Resource temporarily unavailable" in answer or "Cannot fork" in answer, answer
    assert "still-here" in answer
