"""OpenAI's Codex CLI as a real client of /v1/responses (issue 22): `codex exec` with its default
configuration (its default tools: functions, a `namespace` of functions, `web_search`; nothing
turned off), pointed at the gateway as a custom provider, runs a two-step shell task. Claude (the
fake upstream's script) calls Codex's shell function twice; Codex, the client, runs each command
itself and sends the output back; then Claude answers.

Codex comes from npm (tests/e2e/node_codex, pinned by its package-lock.json; `.ci/run` installs it,
and the fixture does when it is missing). Skipped only where Node.js or npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply, tool_results
from tests.support import npm_project

pytestmark = [pytest.mark.e2e, pytest.mark.node, pytest.mark.codex]

CODEX_PROJECT = Path(__file__).parent / "node_codex"
KEY_VARIABLE = "CLAUDE_GATEWAY_KEY"  # the provider's env_key: Codex sends it as the bearer token
SHELL = "exec_command"  # Codex's shell function (0.171: {"cmd": ...}, run in a PTY or pipes)
STEPS = [
    "printf 'first step\\n' > step1.txt && echo step one done",
    "tr a-z A-Z < step1.txt > step2.txt && cat step2.txt",
]
ANSWER = "Both steps ran: step1.txt and step2.txt are written."


@pytest.fixture(scope="module")
def codex() -> str:
    """The Codex CLI, installed from the lock (`npm ci`) when it is not yet."""
    npm_project(CODEX_PROJECT, "OpenAI's Codex CLI")
    return str(CODEX_PROJECT / "node_modules" / ".bin" / "codex")


def steps_taken(body: dict[str, Any]) -> int:
    return sum(
        1
        for message in body["messages"]
        if message["role"] == "assistant"
        and isinstance(message["content"], list)
        and any(block.get("type") == "tool_use" for block in message["content"])
    )


def two_shell_steps(body: dict[str, Any]) -> Reply:
    """Claude's side of the task: run STEPS[0], then STEPS[1] through Codex's shell function, then answer."""
    shell = next((tool["name"] for tool in body.get("tools", []) if tool["name"].endswith("__" + SHELL)), None)
    if shell is None:
        return Reply(text=f"no {SHELL} function was offered")
    done = steps_taken(body)
    if done < len(STEPS):
        return Reply(tool_uses=[{"name": shell, "input": {"cmd": STEPS[done]}}])
    return Reply(text=ANSWER)


def codex_home(tmp_path: Path, gateway_url: str) -> Path:
    """A CODEX_HOME whose config.toml names the gateway as the model provider, and nothing else."""
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        'model = "sonnet"\n'
        'model_provider = "claude_gateway"\n'
        "\n"
        "[model_providers.claude_gateway]\n"
        'name = "Claude Gateway"\n'
        f'base_url = "{gateway_url}/v1"\n'
        'wire_api = "responses"\n'
        f'env_key = "{KEY_VARIABLE}"\n'
    )
    return home


@pytest.fixture
def outside_tmp():
    """The test's folder (CODEX_HOME and the workspace), outside /tmp. Measured with Codex 0.171:
    under /tmp (pytest's default base folder) every command fails in Codex's own sandbox
    ("bwrap: execvp codex-linux-sandbox: No such file or directory"; Codex runs its helper from a
    link it makes in CODEX_HOME/tmp, and its bubblewrap shows little of /tmp), under /var/tmp they
    run. A user's ~/.codex is never under /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="codex-e2e-", dir="/var/tmp" if Path("/var/tmp").is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_codex_runs_a_two_step_shell_task_through_responses(codex, gateway, fake, outside_tmp):
    tmp_path = outside_tmp
    fake.default = two_shell_steps
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    last_message = tmp_path / "last-message.txt"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "CODEX_"))},
        "CODEX_HOME": str(codex_home(tmp_path, gateway.url)),
        KEY_VARIABLE: API_KEY,
    }
    done = subprocess.run(
        [
            codex,
            "exec",
            "--skip-git-repo-check",  # the workspace is a bare folder, not a git checkout
            "--sandbox",
            "workspace-write",  # the commands write their files in the workspace (the default is read-only)
            "--cd",
            str(workspace),
            "--output-last-message",
            str(last_message),
            "--json",
            "Write step1.txt, then step2.txt from it in upper case.",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{gateway.log()[-3000:]}"

    # What the two steps produced, run by Codex itself in its workspace.
    assert (workspace / "step1.txt").exists(), f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}\n{fake.requests[-3:]}"
    assert (workspace / "step1.txt").read_text() == "first step\n"
    assert (workspace / "step2.txt").read_text() == "FIRST STEP\n"
    # Claude got each command's output back, through the gateway, as the function's result.
    results = tool_results(fake.requests[-1])
    assert len(results) == 2 and "step one done" in results[0] and "FIRST STEP" in results[1], results
    # Codex's final message is Claude's answer.
    assert last_message.read_text().strip() == ANSWER
    # Codex's own account of the task (its --json events): two commands run, their outputs.
    items = [event["item"] for event in events if event.get("type") == "item.completed"]
    commands = [item for item in items if item["type"] == "command_execution"]
    assert [command["exit_code"] for command in commands] == [0, 0], items
    # (after whatever the machine's login shell prints first: Codex runs `bash -lc`)
    assert commands[0]["aggregated_output"].endswith("step one done\n"), commands
    assert commands[1]["aggregated_output"].endswith("FIRST STEP\n"), commands

    # Codex's default tools all reached Claude, each in view: its functions, its namespace's
    # functions (multi_agent_v1), and its web search as Claude Code's WebSearch.
    offered = {tool["name"]: tool for tool in fake.requests[0]["tools"]}
    assert f"mcp__client__{SHELL}" in offered
    assert any(name.startswith("mcp__client__multi_agent_v1__") for name in offered), sorted(offered)
    assert "WebSearch" in offered, sorted(offered)
    assert "DeferredToolPlaceholder" not in offered and not any(t.get("defer_loading") for t in offered.values())
    assert len(fake.requests) == 3  # one model call per step, and the answer
