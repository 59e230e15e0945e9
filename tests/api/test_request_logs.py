"""The request log through the app, on the real engine with the fake CLI: one JSON line per
request with its id, key name, session, model, door, status, time to first token, duration,
tokens and cost; and no secret in anything the gateway logs, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.observability import logs
from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}
CLIENT_SIDE = ("httpx", "httpcore")  # the test's own HTTP client, not the gateway


@pytest.fixture
def captured():
    """Everything the gateway logs from DEBUG up, formatted as GATEWAY_LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    handler.addFilter(lambda record: not record.name.startswith(CLIENT_SIDE))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def request_lines(stream: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "claude_gateway.requests"]


async def test_one_json_line_per_request_with_the_turn_in_it(gateway, captured):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = (await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()
    key = {"Authorization": f"Bearer {created['key']}"}
    answered = await client.post("/v1/chat/completions", json=ask("hi", session_id="s1"), headers=key)
    refused = await client.post("/v1/chat/completions", json=ask("hi", model="gpt-nonexistent"), headers=key)
    assert answered.status_code == 200 and refused.status_code == 404

    admin, turn, bad = request_lines(captured)
    assert (admin["door"], admin["path"], admin["status"], admin["turns"]) == ("admin", "/admin/keys", 201, 0)
    usage = answered.json()["usage"]
    assert turn["request_id"] == answered.json()["id"] == answered.headers["x-request-id"]
    assert (turn["key"], turn["session"], turn["model"], turn["door"]) == ("ann", "s1", "sonnet", "chat")
    assert (turn["method"], turn["path"], turn["status"], turn["outcome"]) == (
        "POST",
        "/v1/chat/completions",
        200,
        "ok",
    )
    assert turn["output_tokens"] == usage["completion_tokens"] > 0
    assert (
        turn["input_tokens"] + turn["cache_read_input_tokens"] + turn["cache_creation_input_tokens"]
        == (usage["prompt_tokens"])
    )
    assert 0 <= turn["ttft_ms"] <= turn["duration_ms"] and isinstance(turn["cost_usd"], float)
    assert turn["level"] == "info" and turn["time"].endswith("+00:00")
    assert (bad["status"], bad["key"], bad["model"], bad["turns"], bad["ttft_ms"]) == (404, "ann", None, 0, None)
    assert bad["request_id"].startswith("req_") and bad["request_id"] != turn["request_id"]


async def test_a_failed_turn_is_logged_with_its_error(gateway, captured):
    client, _, _ = await gateway()
    failed = await client.post("/v1/chat/completions", json=ask("[[crash]]"))
    assert failed.status_code >= 500
    (line,) = request_lines(captured)
    assert (line["status"], line["outcome"], line["error"]) == (
        failed.status_code,
        "error",
        failed.json()["error"]["code"],
    )
    assert line["key"] == "anonymous" and line["ttft_ms"] is None


async def test_no_secret_reaches_the_log(gateway, captured, monkeypatch):
    secrets = {
        "admin-secret-0123456789abcdef-0123456789",
        "static-key-secret",
        "server-secret-for-credentials-0123456789",
        "sk-ant-api03-SECRET-sent-per-request",
        "sk-ant-oat01-SECRET-stored-with-a-key",
        "wrong-key-someone-tried",
    }
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789",
        api_keys="static-key-secret",
        secret_key="server-secret-for-credentials-0123456789",
        allow_request_credentials=True,
    )
    credential = {"type": "oauth_token", "value": "sk-ant-oat01-SECRET-stored-with-a-key"}
    created = await client.post("/admin/keys", json={"name": "ann", "claude_credential": credential}, headers=ADMIN)
    assert created.status_code == 201, created.text
    managed = created.json()["key"]
    secrets.add(managed)
    sent = {"Authorization": "Bearer static-key-secret", "X-Claude-Credential": "sk-ant-api03-SECRET-sent-per-request"}
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=sent)).status_code == 200
    for_ann = {"x-api-key": managed}
    assert (
        await client.post(
            "/v1/messages",
            json={"model": "sonnet", "max_tokens": 9, "messages": [{"role": "user", "content": "[[crash]]"}]},
            headers=for_ann,
        )
    ).status_code >= 500
    wrong = {"Authorization": "Bearer wrong-key-someone-tried"}
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=wrong)).status_code == 401
    assert (await client.get("/metrics", headers=ADMIN)).status_code == 200

    text = captured.getvalue()
    assert len(request_lines(captured)) == 5
    assert [secret for secret in secrets if secret in text] == []
