"""Agent sessions on the real CLI: a fork goes on independently of its source, and a named agent
session resumes from Claude Code's transcript (and keeps its workspace) after a gateway restart."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.e2e.test_agent_e2e import chat, tool
from tests.support import GatewayServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EDITS = {"permission_mode": "acceptEdits"}


@pytest.fixture(scope="module")
def agent_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "agent-sessions", agent_mode="true")


def files(gateway, session: str) -> dict[str, str]:
    listed = httpx.get(f"{gateway.url}/v1/sessions/{session}/files", headers=AUTH).json()["data"]
    return {
        f["path"]: httpx.get(f"{gateway.url}/v1/sessions/{session}/files/{f['path']}", headers=AUTH).text
        for f in listed
    }


def seen_by_claude(fake) -> str:
    """What the model received in the last call: the whole conversation, as JSON text."""
    return json.dumps(fake.requests[-1]["messages"])


def test_a_fork_goes_on_independently(agent_gateway, fake):
    first = chat(agent_gateway, tool("Write", file_path="base.txt", content="from-the-source"), EDITS, session="orig")
    assert first.status_code == 200, first.text
    forked = httpx.post(f"{agent_gateway.url}/v1/sessions/orig/fork", json={"id": "copy"}, headers=AUTH)
    assert forked.status_code == 201 and forked.json()["id"] == "copy", forked.text

    assert chat(agent_gateway, "source goes on", EDITS, session="orig").status_code == 200
    assert "from-the-source" in seen_by_claude(fake) and "source goes on" in seen_by_claude(fake)
    copy = chat(agent_gateway, tool("Write", file_path="fork.txt", content="only-in-the-fork"), EDITS, session="copy")
    assert copy.status_code == 200, copy.text
    assert "from-the-source" in seen_by_claude(fake) and "source goes on" not in seen_by_claude(fake)
    assert chat(agent_gateway, "source again", EDITS, session="orig").status_code == 200
    assert "only-in-the-fork" not in seen_by_claude(fake)

    assert files(agent_gateway, "orig") == {"base.txt": "from-the-source"}
    assert files(agent_gateway, "copy") == {"base.txt": "from-the-source", "fork.txt": "only-in-the-fork"}
    sessions = httpx.get(f"{agent_gateway.url}/v1/sessions", headers=AUTH).json()["data"]
    assert {s["id"]: s["turns"] for s in sessions if s["id"] in ("orig", "copy")} == {"orig": 3, "copy": 2}


def test_fork_refuses_an_unknown_session_and_a_taken_id(agent_gateway, fake):
    assert httpx.post(f"{agent_gateway.url}/v1/sessions/nope/fork", headers=AUTH).status_code == 404
    assert chat(agent_gateway, "hello", EDITS, session="taken").status_code == 200
    assert chat(agent_gateway, "hello", EDITS, session="taken2").status_code == 200
    clash = httpx.post(f"{agent_gateway.url}/v1/sessions/taken/fork", json={"id": "taken2"}, headers=AUTH)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "session_exists"
    bad = httpx.post(f"{agent_gateway.url}/v1/sessions/taken/fork", json={"id": "no spaces"}, headers=AUTH)
    assert bad.status_code == 400


def test_a_named_agent_session_resumes_after_a_restart(upstream, cli_config_dir, tmp_path_factory, fake):
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY, "GATEWAY_AGENT_MODE": "true"}
    server = GatewayServer(env, tmp_path_factory.mktemp("restart")).start()
    try:
        before = chat(server, tool("Write", file_path="memo.txt", content="remember-42"), EDITS, session="keep")
        assert before.status_code == 200, before.text
        server.stop()
        server.start()
        after = chat(server, "what did you write?", EDITS, session="keep")
        assert after.status_code == 200, after.text
        assert "remember-42" in seen_by_claude(fake) and "what did you write?" in seen_by_claude(fake)
        assert files(server, "keep") == {"memo.txt": "remember-42"}
    finally:
        server.stop()
