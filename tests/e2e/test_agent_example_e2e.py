"""examples/agent_files.py against a real gateway on the real CLI: the file goes up, Claude Code
(scripted by the fake upstream) edits it with its own tools, and the changed file comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.support import ROOT


@pytest.fixture(scope="module")
def agent_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "agent-example", agent_mode="true")


def test_the_agent_example_uploads_edits_and_downloads(agent_gateway, fake):
    read = {"file_path": "greeting.txt"}
    edit = {"file_path": "greeting.txt", "old_string": "Helo wrld", "new_string": "Hello world"}
    env = {
        **os.environ,
        "GATEWAY_URL": f"{agent_gateway.url}/v1",
        "GATEWAY_API_KEY": API_KEY,
        "AGENT_PROMPT": f"TOOL:Read {json.dumps(read)}\nTOOL:Edit {json.dumps(edit)}",
    }
    run = subprocess.run(
        [sys.executable, "examples/agent_files.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "greeting.txt now: Hello world, from the agent example." in run.stdout, run.stdout
    assert "tool_use Edit" in run.stdout and "files: [('greeting.txt'," in run.stdout
