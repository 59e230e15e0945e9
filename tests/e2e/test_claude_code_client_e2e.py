"""Claude Code as a CLIENT of the gateway's /v1/messages: the real bundled CLI, pointed at the
gateway with ANTHROPIC_BASE_URL and a gateway key, runs a two-step task. Claude (the fake
upstream's script, behind the gateway's own Claude Code) calls the client's Bash to write a file,
then its Read; the client runs both in its workspace, and its final output is Claude's answer.

What the client sends that other clients do not: `role: "system"` messages inside `messages`,
`metadata.user_id` holding its session id (one gateway session per Claude Code session),
`cache_control`, `context_management` and `anthropic-beta` features."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import claude_agent_sdk
import httpx
import pytest

from app.demo.upstream import offline_env
from tests.e2e.conftest import serve
from tests.fakes.upstream import agent, tool_results

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
KEY = "claude-code-client-key"  # this test's own tenant: its sessions are the client's alone
WRITTEN = "made by the client bash"


@pytest.fixture(scope="module")
def own_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "claude-code-client", api_keys=KEY)


def claude(args: list[str], workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The bundled CLI in print mode (`claude -p <args...>`, JSON output), run in `workspace`."""
    return subprocess.run(
        [str(BUNDLED_CLI), "-p", *args, "--output-format", "json"],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_claude_code_runs_a_bash_then_read_task_through_messages(own_gateway, fake, tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    target = workspace / "made.txt"
    fake.default = agent(
        [("Bash", {"command": f"printf '{WRITTEN}' > {target}", "description": "Write the file"})],
        [("Read", {"file_path": str(target)})],
    )
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ANTHROPIC_", "CLAUDE_"))},
        **offline_env(own_gateway.url, KEY, str(tmp_path / "client-config")),
    }
    task = ["Write made.txt with bash, then read it.", "--allowedTools", "Bash", "Read", "--effort", "high"]
    done = claude(task, workspace, env)
    why = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{own_gateway.log()[-4000:]}"
    assert done.returncode == 0, why
    output = json.loads(done.stdout)

    # The client ran Bash: the file is there.
    assert target.exists() and target.read_text() == WRITTEN, why
    # Both results reached Claude (behind the gateway), Read's with the file's text.
    results = tool_results(fake.requests[-1])
    assert len(results) == 2 and WRITTEN in results[1], results
    # The client's final output is Claude's answer.
    assert output["is_error"] is False and output["result"] == "results: " + " | ".join(results), output
    # Every request of the client was answered: none refused (its `role: "system"` message was a 400
    # once, and the client then fell back to a request without it).
    assert " 400 " not in own_gateway.log(), own_gateway.log()[-3000:]
    # That system message (Claude Code's environment) reached Claude in its system prompt.
    system = json.dumps(fake.requests[0]["system"])
    assert "Primary working directory: " + str(workspace) in system, system[-2000:]
    # The client's effort (output_config.effort) is the one Claude ran with.
    assert [request.get("output_config", {}).get("effort") for request in fake.requests] == ["high"] * 3
    # The client's tools reached Claude as the client's.
    offered = {tool["name"] for tool in fake.requests[0]["tools"]}
    assert {"mcp__client__Bash", "mcp__client__Read"} <= offered, sorted(offered)

    # Its requests (the task, each tool's result) were one gateway session, keyed by the client's
    # own session id (metadata.user_id).
    sessions = httpx.get(f"{own_gateway.url}/v1/sessions", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert len(sessions) == 1 and sessions[0]["turns"] == 3, sessions
    assert sessions[0]["id"] == "claude-code-" + output["session_id"], (output["session_id"], sessions)

    # The Claude Code session resumed later (a new process, its history from its own transcript)
    # goes on in the same gateway session.
    again = claude(["And once more?", "--resume", output["session_id"]], workspace, env)
    assert again.returncode == 0, f"{again.stdout[-3000:]}\n{again.stderr[-3000:]}\n{own_gateway.log()[-3000:]}"
    assert json.loads(again.stdout)["result"].startswith("results: ")
    sessions = httpx.get(f"{own_gateway.url}/v1/sessions", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert [(s["id"], s["turns"]) for s in sessions] == [("claude-code-" + output["session_id"], 4)], sessions
