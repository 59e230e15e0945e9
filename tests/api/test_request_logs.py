"""The request log through the app, on the real engine with the fake CLI: one JSON line per
request with its id, key name, session, model, door, status, time to first token, duration,
tokens and cost; and no secret in anything the gateway logs, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from app.observability import logs
from tests.support import FAKE_CLAUDE, GatewayServer, ask

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


SOCKET_SECRETS = ("sk-gw-SECRET-socket-key", "sk-ant-api03-SECRET-socket-credential", "sk-gw-WRONG-SECRET")


@pytest.mark.parametrize("level", ["debug", "info", "warning"])
def test_no_secret_of_a_socket_reaches_the_log_at_any_level(tmp_path, level):
    """On a real server (uvicorn's socket protocol logs under `uvicorn.error`, with websockets'
    frame dumps at DEBUG: the handshake's headers and each message's start)."""
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "GATEWAY_API_KEYS": SOCKET_SECRETS[0],
        "GATEWAY_ALLOW_REQUEST_CREDENTIALS": "true",
        "GATEWAY_LOG_LEVEL": level,
        "GATEWAY_SPARE_PROCESSES": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    server = GatewayServer(env, tmp_path).start()
    try:
        url = f"ws://127.0.0.1:{server.port}"
        headers = {"Authorization": f"Bearer {SOCKET_SECRETS[0]}", "X-Claude-Credential": SOCKET_SECRETS[1]}
        response = {"type": "response.create", "model": "sonnet", "input": "message-SECRET-text"}
        with connect(f"{url}/v1/responses", additional_headers=headers, open_timeout=60) as ws:
            ws.send(json.dumps(response))
            while json.loads(ws.recv(timeout=60))["type"] != "response.completed":
                pass
        with connect(f"{url}/v1/chat/ws", additional_headers=headers, open_timeout=60) as ws:
            ws.send(json.dumps(ask("message-SECRET-text")))
            while not json.loads(ws.recv(timeout=60))["choices"][0].get("finish_reason"):
                pass
        with pytest.raises(InvalidStatus):
            connect(f"{url}/v1/responses", additional_headers={"Authorization": f"Bearer {SOCKET_SECRETS[2]}"})
    finally:
        server.stop()
    text = server.log()
    assert [secret for secret in (*SOCKET_SECRETS, "message-SECRET-text") if secret in text] == []
    assert '"WebSocket /v1/responses" [accepted]' in text if level != "warning" else True
    if level == "debug":
        assert " DEBUG " in text  # the level was on: the wire's records alone were dropped


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_request_path_cannot_forge_a_log_line(gateway, log_format):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(log_format))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        client, _, _ = await gateway()
        forged = "1999-12-07 12:00:00,000 INFO claude_gateway.requests: POST /admin/keys 201"
        for breaks in ("%0A", "%0D%0A", "%E2%80%A8", "%C2%85"):  # \n, \r\n, U+2028, U+0085 (NEL)
            await client.get(f"/v1/models{breaks}{forged.replace(' ', '%20')}")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()  # splits at every line break a reader might
    assert [line for line in lines if line.startswith("1999-")] == []
    if log_format == "json":
        request = [json.loads(line) for line in lines]  # each line whole JSON
        assert [line["path"][:11] for line in request if line["logger"] == "claude_gateway.requests"] == [
            "/v1/models\n",
            "/v1/models\r",
            "/v1/models\u2028",
            "/v1/models\x85",
        ]
    else:
        assert len([line for line in lines if "INFO claude_gateway.requests: GET /v1/models" in line]) == 4


def test_a_text_lines_fields_cannot_pass_for_more_fields():
    record = logging.LogRecord("claude_gateway.requests", logging.INFO, "", 0, "GET /x 200", None, None)
    record.fields = {"key": "ann status=201 key=admin", "error": "boom\nnext line", "session": "s1"}
    line = logs.TextFormatter().format(record)
    assert line.endswith(' key="ann status=201 key=admin" error="boom\\nnext line" session=s1')


def test_a_traceback_cannot_forge_a_line_of_its_own():
    """An exception's message may quote a client's text; in the text format every line of the
    traceback is set off, so a newline in it starts no line that reads as a log line."""
    forged = "2026-12-07 10:00:00,000 INFO claude_gateway.requests: POST /admin/keys 201"
    try:
        raise ValueError(f"bad model\n{forged}\u2028{forged}")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, "", 0, "turn failed", None, sys.exc_info())
    lines = logs.TextFormatter().format(record).splitlines()
    assert lines[0].endswith("turn failed") and len(lines) > 2
    assert all(line.startswith("  | ") for line in lines[1:])
