"""Hanging up does not avoid the budget: a stream the client closes after some deltas is charged
what Claude streamed by then (output tokens counted from the deltas, priced at the model's rates
since Claude Code's result never came), so the next request on a tiny budget is refused. Run on
the real server (`python main.py`, uvicorn) with the fake CLI, the client closing its connection."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import FAKE_CLAUDE, GatewayServer

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hangup")
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "GATEWAY_ADMIN_KEY": "admin-secret-0123456789abcdef-0123456789",
        "CLAUDE_CONFIG_DIR": str(tmp / "claude-config"),
        "GATEWAY_SPARE_PROCESSES": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    gateway = GatewayServer(env, tmp).start()
    yield gateway
    gateway.stop()


def usage(server: GatewayServer, headers: dict[str, str]) -> dict:
    total: dict = httpx.get(f"{server.url}/v1/usage", headers=headers, timeout=10).json()["total"]
    return total


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_stream_cut_after_fifty_deltas_is_charged_and_the_next_request_refused(server, path):
    made = httpx.post(f"{server.url}/admin/keys", json={"name": "tiny", "budget_usd": 0.0001}, headers=ADMIN)
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "[[slow]] [[long 300]]"}]}
    if path == "/v1/messages":
        body["max_tokens"] = 4000
    deltas = 0
    with httpx.stream("POST", f"{server.url}{path}", json=body, headers=headers, timeout=60) as streamed:
        assert streamed.status_code == 200
        for line in streamed.iter_lines():
            if line.startswith("data:") and ('"content"' in line or "text_delta" in line):
                deltas += 1
            if deltas >= 50:
                break  # the client hangs up mid-answer
    recorded: dict = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not recorded.get("requests"):
        time.sleep(0.1)
        recorded = usage(server, headers)
    assert recorded.get("requests") == 1, recorded
    assert 45 <= recorded["output_tokens"] <= 80, recorded  # about the deltas streamed, not 1
    assert recorded["cost_usd"] > 0.0001, recorded  # 50 tokens at Sonnet's $10/M: $0.0005
    refused = httpx.post(f"{server.url}{path}", json={**body, "stream": False}, headers=headers, timeout=30)
    assert refused.status_code == 429 and "budget" in refused.text, refused.text


async def test_turns_the_gateway_cuts_short_are_charged_what_they_used(gateway):
    """A stop string or max_tokens ends the turn before Claude Code's result (and its cost): what
    was streamed is still priced, so neither is free."""
    from tests.support import ask

    client, _, _ = await gateway()
    stopped = await client.post("/v1/chat/completions", json={**ask("[[long 60]]"), "stop": ["w40"]})
    assert stopped.json()["choices"][0]["finish_reason"] == "stop", stopped.text
    cut = await client.post("/v1/chat/completions", json=ask("[[max_tokens]] hi"))
    assert cut.json()["choices"][0]["finish_reason"] == "length", cut.text
    by_model = (await client.get("/v1/usage")).json()
    assert by_model["total"]["requests"] == 2 and by_model["total"]["output_tokens"] >= 40, by_model
    assert by_model["total"]["cost_usd"] >= 40 * 10 / 1e6, by_model  # Sonnet's $10/M output at least
