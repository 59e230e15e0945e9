"""Starting the gateway: safe binding, and a clear error when no Claude credential exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, GatewayServer, wait_until

pytestmark = pytest.mark.e2e


def test_refuses_to_bind_beyond_loopback_without_an_api_key():
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_API_KEYS": ""}
    done = subprocess.run(
        [sys.executable, "main.py", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "GATEWAY_API_KEYS" in done.stderr


def test_without_a_claude_login_health_answers_and_completions_say_how_to_log_in(upstream, tmp_path):
    empty_config = tmp_path / "empty-claude-config"
    empty_config.mkdir()
    env = upstream.cli_env(str(empty_config))
    del env["ANTHROPIC_API_KEY"]
    server = GatewayServer(env, tmp_path).start()
    try:
        assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
        status = httpx.get(f"{server.url}/v1/auth/status", timeout=60).json()
        assert status["credential"]["configured"] is False
        response = httpx.post(
            f"{server.url}/v1/chat/completions",
            timeout=60,
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "claude_credentials_missing"
        for way in ("claude login", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"):
            assert way in error["message"]
    finally:
        server.stop()


def test_shutdown_closes_every_claude_process(upstream, tmp_path):
    server = GatewayServer(upstream.cli_env(str(tmp_path / "config")), tmp_path).start()
    try:
        response = httpx.post(
            f"{server.url}/v1/chat/completions",
            timeout=60,
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
        assert wait_until(lambda: len(server.children()) >= 2, timeout=10)  # the conversation's and a spare
        children = server.children()
    finally:
        server.stop()
    assert "Application shutdown complete" in server.log()
    assert server.process is not None and server.process.returncode == 0  # a drain, not a death by SIGTERM
    assert wait_until(lambda: not [pid for pid in children if Path(f"/proc/{pid}").exists()], timeout=5)
