"""Security end to end: the real Claude Code CLI behind a real gateway, the fake Anthropic API.

What a chat-mode Claude process must never reach (the host's MCP servers), and what a client
must never be told (local paths, the upstream's address).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import claude_agent_sdk
import httpx
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply
from tests.support import ROOT, GatewayServer, free_port, wait_until

pytestmark = pytest.mark.e2e

BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
PROBE = ROOT / "tests" / "fakes" / "probe_mcp.py"


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def probe_tools(requests: list[dict]) -> list[str]:
    return [t.get("name", "") for body in requests for t in body.get("tools", []) if "probe" in t.get("name", "")]


@pytest.fixture
def host_with_mcp_servers(tmp_path):
    """A CLI config folder with a user-scope MCP server, and a work folder under a planted
    project `.mcp.json`: both name a server whose start leaves a marker file."""
    config, work, marker = tmp_path / "claude-config", tmp_path / "work", tmp_path / "probe-started"
    config.mkdir()
    work.mkdir(mode=0o700)
    server = {"type": "stdio", "command": sys.executable, "args": [str(PROBE)], "env": {"PROBE_MARKER": str(marker)}}
    (config / ".claude.json").write_text(json.dumps({"mcpServers": {"probe": server}}))
    (work / ".mcp.json").write_text(json.dumps({"mcpServers": {"probe-project": server}}))
    return config, work, marker


def test_the_hosts_mcp_servers_never_start(upstream, fake, host_with_mcp_servers, tmp_path):
    """With CLI 2.1.329, leaving out setting sources already keeps these servers out; the gateway
    also passes --strict-mcp-config, which the CLI's help names as the flag that skips MCP servers
    (tests/api checks every process gets it). This guards the outcome whatever the CLI version."""
    config, work, marker = host_with_mcp_servers
    env = upstream.cli_env(str(config))
    # The control: this configuration is live. A plain CLI run (host settings on) starts the
    # server and shows its tool to the model.
    folder = work / "plain-run"
    folder.mkdir()
    plain_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}, **env}
    done = subprocess.run(
        [str(BUNDLED_CLI), "-p", "hi", "--tools", ""],
        cwd=folder,
        env=plain_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert marker.exists() and probe_tools(fake.requests)
    marker.unlink()
    fake.reset()

    # The gateway: keyless, so the engine's figures (spare hits) are visible.
    server = GatewayServer({**env, "GATEWAY_WORK_DIR": str(work)}, tmp_path).start()
    try:

        def chat(messages, **extra):
            response = httpx.post(
                f"{server.url}/v1/chat/completions", timeout=60, json={"model": "sonnet", "messages": messages, **extra}
            )
            assert response.status_code == 200, response.text
            return response.json()["choices"][0]["message"]["content"]

        def figures() -> dict:
            return httpx.get(f"{server.url}/v1/sessions/stats").json()["gateway"]["processes"]

        first = chat([user("first")])
        for attempt in range(5):  # a spare still connecting is not taken: give it time, and retry
            assert wait_until(lambda: figures()["spares"] >= 1, timeout=30)
            time.sleep(1 + 2 * attempt)
            chat([user(f"a new conversation, on a spare ({attempt})")])
            if figures()["spare_hits"] >= 1:
                break
        assert figures()["spare_hits"] >= 1
        chat([user("first"), {"role": "assistant", "content": first}, user("a follow-up")])
        chat([user("an edited"), {"role": "assistant", "content": "history"}, user("resumed from a transcript")])
        tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
        chat([user("with the client's own functions")], tools=[tool])
        response = httpx.post(
            f"{server.url}/v1/messages",
            timeout=60,
            json={"model": "sonnet", "max_tokens": 50, "messages": [user("anthropic door")]},
        )
        assert response.status_code == 200, response.text
    finally:
        server.stop()
    assert len(fake.requests) >= 6
    assert not marker.exists(), marker.read_text()
    assert probe_tools(fake.requests) == []
    assert any(t["name"] == "mcp__client__lookup" for body in fake.requests for t in body.get("tools", []))


def test_refuses_to_start_in_a_work_folder_others_can_write(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    env = {"PATH": os.environ["PATH"], "GATEWAY_WORK_DIR": str(shared)}
    done = subprocess.run(
        [sys.executable, "main.py", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "Refusing to start" in done.stderr and "writable by other users" in done.stderr
    assert list(shared.iterdir()) == []


def own_folders(work: Path) -> set[Path]:
    return {p for p in work.iterdir() if p.name.startswith("claude-gateway-")}


def transcripts_of(config: Path, folder: Path) -> list[Path]:
    prefix = re.sub(r"[^a-zA-Z0-9]", "-", str(folder)) + "-"
    projects = config / "projects"
    return [p for p in projects.iterdir() if p.name.startswith(prefix)] if projects.is_dir() else []


def test_a_killed_gateways_leftovers_go_at_the_next_start_and_a_live_ones_stay(upstream, fake, tmp_path):
    config, work = tmp_path / "claude-config", tmp_path / "work"
    config.mkdir()
    work.mkdir(mode=0o700)
    env = {**upstream.cli_env(str(config)), "GATEWAY_WORK_DIR": str(work), "GATEWAY_SPARE_PROCESSES": "0"}
    servers, folders = [], []
    try:
        for name in ("killed", "live"):
            before = own_folders(work)
            server = GatewayServer(env, tmp_path).start()
            servers.append(server)
            (folder,) = own_folders(work) - before
            folders.append(folder)
            response = httpx.post(
                f"{server.url}/v1/chat/completions",
                timeout=60,
                json={"model": "sonnet", "session_id": name, "messages": [user(f"remember {name}")]},
            )
            assert response.status_code == 200, response.text
        killed, live = servers
        killed_folder, live_folder = folders
        assert transcripts_of(config, killed_folder) and transcripts_of(config, live_folder)
        orphans = killed.children()
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(timeout=10)
        for pid in orphans:  # its Claude processes would outlive it for a while; not this test's subject
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert killed_folder.exists()  # what the crash left behind

        servers.append(GatewayServer(env, tmp_path).start())
        assert not killed_folder.exists() and transcripts_of(config, killed_folder) == []
        assert live_folder.exists() and transcripts_of(config, live_folder)
        again = httpx.post(
            f"{live.url}/v1/chat/completions",
            timeout=60,
            json={"model": "sonnet", "session_id": "live", "messages": [user("still there?")]},
        )
        assert again.status_code == 200
    finally:
        for server in servers:
            server.stop()
    assert own_folders(work) == set()  # a gateway that stops removes its own folder


def test_an_upstream_error_names_no_address_or_path(gateway, fake):
    fake.enqueue(Reply(status=500, error_message="Internal error in /srv/upstream/handler.py"))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"x-api-key": API_KEY},
        timeout=60,
        json={"model": "sonnet", "messages": [user("fail please")]},
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    for secret in ("127.0.0.1", str(fake.port), "/srv/upstream", "inference gateway"):
        assert secret not in error["message"]
    assert f"127.0.0.1:{fake.port}" in gateway.log()  # the operator has it


def test_an_unreachable_upstream_is_a_clear_502(upstream, tmp_path):
    closed = free_port()  # nothing listens there
    env = {**upstream.cli_env(str(tmp_path / "config")), "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{closed}"}
    server = GatewayServer(env, tmp_path).start()
    try:
        for path, body in (("/v1/chat/completions", {}), ("/v1/messages", {"max_tokens": 20})):
            for stream in (False, True):
                response = httpx.post(
                    f"{server.url}{path}",
                    timeout=60,
                    json={"model": "sonnet", "stream": stream, "messages": [user("anyone there?")], **body},
                )
                assert response.status_code == 502, response.text
                message = response.json()["error"]["message"]
                if path == "/v1/chat/completions":
                    assert response.json()["error"]["code"] == "upstream_unreachable"
                assert "could not be reached" in message and "ECONNREFUSED" in message
                assert str(closed) not in message and "127.0.0.1" not in message and "success" not in message
    finally:
        server.stop()


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "claude-" + "x" * 300_000}, "model"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "big", "schema": {"type": "object", "description": "x" * 500_000}},
                }
            },
            "response_format.json_schema.schema",
        ),
    ],
)
def test_client_data_too_big_for_the_command_line_is_a_400(gateway, fake, body, param):
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"x-api-key": API_KEY},
        timeout=60,
        json={"model": "sonnet", "messages": [user("hi")], **body},
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["param"] == param
    assert fake.requests == []
