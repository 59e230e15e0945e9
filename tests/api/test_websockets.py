"""The WebSocket doors on the real engine with the fake `claude`: the Responses API's WebSocket mode
on /v1/responses and the chat socket /v1/chat/ws (app/http/sockets/). Starlette's TestClient speaks the
socket in-process; the e2e module tests/e2e/test_websockets_e2e.py drives both over a real server
with the Agents SDK and the `websockets` client."""

from __future__ import annotations

import io
import json
import logging

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from app.http.app import create_app
from app.http.middleware.drain import cut_turns
from app.observability import logs
from tests.api.conftest import make_settings
from tests.api.test_request_logs import request_lines

KEY = "ws-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def client(tmp_path, config_dir):
    def start(**overrides):
        app = create_app(make_settings(tmp_path, **{"api_keys": KEY, **overrides}))
        return TestClient(app)

    clients = []

    def made(**overrides):
        clients.append(start(**overrides).__enter__())
        return clients[-1]

    yield made
    for c in clients:
        c.__exit__(None, None, None)


def until(ws, done) -> list[dict]:
    """Messages up to and including the first for which `done` holds."""
    seen = []
    while True:
        message = json.loads(ws.receive_text())
        seen.append(message)
        if done(message):
            return seen


def terminal(event: dict) -> bool:
    return event["type"] in ("response.completed", "response.incomplete", "response.failed", "error")


def create(text: str, **fields) -> str:
    return json.dumps({"type": "response.create", "model": "sonnet", "input": text, **fields})


def finished(chunk: dict) -> bool:
    return "error" in chunk or any(c.get("finish_reason") for c in chunk.get("choices", []))


def chat(text: str, **fields) -> str:
    return json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": text}], **fields})


def content(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


# --- the Responses API's WebSocket mode ---------------------------------------------------------------


def test_one_socket_carries_several_responses_with_the_sse_events(client):
    with client().websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("hello"))
        first = until(ws, terminal)
        ws.send_text(create("[[history]]", previous_response_id=first[-1]["response"]["id"]))
        second = until(ws, terminal)
    kinds = [e["type"] for e in first]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert [e["sequence_number"] for e in first] == list(range(len(first)))
    assert first[-1]["response"]["output"][0]["content"][0]["text"] == "echo: hello"
    history = json.loads(second[-1]["response"]["output"][0]["content"][0]["text"])["history"]
    assert history == [["user", "hello"], ["assistant", "echo: hello"]]


def test_the_sockets_last_response_continues_with_store_false(client):
    """Codex-style clients chain with store=false: the socket keeps its last response in memory,
    as the reference's WebSocket mode does, while HTTP and other sockets cannot see it."""
    app = client()
    with app.websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("secret", store=False))
        first = until(ws, terminal)[-1]["response"]
        ws.send_text(create("[[history]]", store=False, previous_response_id=first["id"]))
        second = until(ws, terminal)[-1]["response"]
    history = json.loads(second["output"][0]["content"][0]["text"])["history"]
    assert history == [["user", "secret"], ["assistant", "echo: secret"]]
    assert app.get(f"/v1/responses/{first['id']}", headers=AUTH).status_code == 404
    with app.websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("x", previous_response_id=first["id"]))
        assert json.loads(ws.receive_text())["status"] == 404


def test_a_refused_request_is_an_error_event_and_the_socket_goes_on(client):
    with client().websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text("{not json")
        bad_json = json.loads(ws.receive_text())
        ws.send_text(create("x", previous_response_id="resp_nope"))
        not_found = json.loads(ws.receive_text())
        ws.send_text(json.dumps({"type": "response.steer", "input": "x"}))
        unknown = json.loads(ws.receive_text())
        ws.send_text(create("still here", stream_id="lane-1"))
        events = until(ws, terminal)
    assert bad_json["type"] == "error" and bad_json["status"] == 400
    assert bad_json["error"]["code"] == "invalid_json"
    assert not_found["type"] == "error" and not_found["status"] == 404
    assert unknown["error"]["code"] == "unknown_event" and unknown["error"]["param"] == "type"
    assert events[-1]["type"] == "response.completed"
    assert {e["stream_id"] for e in events} == {"lane-1"}


def test_an_unserved_tool_type_is_refused_on_both_sockets_as_over_http(client):
    """dialects/tool_types.py: the sockets read requests through the same wire models."""
    app = client()
    with app.websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("x", tools=[{"type": "image_generation"}]))
        refused = json.loads(ws.receive_text())
    with app.websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        ws.send_text(chat("x", tools=[{"type": "local_shell"}]))
        refused_too = json.loads(ws.receive_text())
    assert refused["type"] == "error" and refused["status"] == 400, refused
    assert (refused["error"]["code"], refused["error"]["param"]) == ("unsupported_tool_type", "tools[0].type")
    assert refused_too["error"]["code"] == "unsupported_tool_type", refused_too


def test_a_second_request_while_one_runs_waits_its_turn(client):
    with client().websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("[[slow]] one"))
        ws.send_text(create("two"))
        first = until(ws, terminal)
        second = until(ws, terminal)
    assert first[-1]["response"]["output"][0]["content"][0]["text"] == "echo: [[slow]] one"
    assert second[-1]["response"]["output"][0]["content"][0]["text"] == "echo: two"


def test_queued_messages_past_the_sockets_bytes_are_refused_and_the_socket_goes_on(client):
    # The running response hangs; 2 MB waits behind it; 2 MB more would pass 3 MB and is refused.
    with client(ws_max_queued_bytes=3_000_000).websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(create("[[slow]] [[long 20]]"))
        ws.send_text(create("queued", padding="x" * 2_000_000))  # an unknown field: ignored, but sent
        ws.send_text(create("refused", padding="x" * 2_000_000, stream_id="big"))
        ws.send_text(create("small"))  # 2 MB and a little: fits
        seen = until(ws, lambda event: event["type"] == "error")
        assert all(event["type"] != "response.completed" for event in seen)  # refused while one runs
        refused = seen[-1]
        answers = [until(ws, terminal)[-1] for _ in range(3)]
    assert refused["status"] == 429 and refused["stream_id"] == "big"
    assert refused["error"]["code"] == "too_many_queued_bytes"
    assert [a["response"]["output"][0]["content"][0]["text"][:12] for a in answers] == [
        "w0 w1 w2 w3 ",
        "echo: queued",
        "echo: small",
    ]


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/ws"])
def test_a_key_past_its_sockets_is_refused_with_the_openai_code_and_a_closed_socket_frees_one(client, path):
    app = client(api_keys=f"{KEY},other-key", ws_max_sockets_per_key=2)
    with app.websocket_connect(path, headers=AUTH), app.websocket_connect(path, headers=AUTH):
        with app.websocket_connect(path, headers=AUTH) as third:
            refusal = json.loads(third.receive_text())
            with pytest.raises(WebSocketDisconnect) as closed:
                third.receive_text()
        with app.websocket_connect(path, headers={"Authorization": "Bearer other-key"}) as other:
            other.send_text(create("hi") if path == "/v1/responses" else chat("hi"))
            assert json.loads(other.receive_text()).get("error") is None  # another key's are its own
    assert closed.value.code == 1008
    error = refusal["error"]
    assert (
        error["code"] == "websocket_connection_limit_reached" and "GATEWAY_WS_MAX_SOCKETS_PER_KEY" in error["message"]
    )
    if path == "/v1/responses":
        assert refusal["type"] == "error" and refusal["status"] == 429
    with app.websocket_connect(path, headers=AUTH) as again:  # the first two were closed: room again
        again.send_text(create("hi") if path == "/v1/responses" else chat("hi"))
        assert json.loads(again.receive_text()).get("error") is None


def test_the_handshake_without_a_valid_key_is_refused_with_401(client):
    app = client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"x-api-key": "wrong"}):
        for path in ("/v1/responses", "/v1/chat/ws"):
            with pytest.raises(WebSocketDenialResponse) as refused:
                with app.websocket_connect(path, headers=headers):
                    pass
            assert refused.value.status_code == 401
            assert refused.value.json()["error"]["code"] == "invalid_api_key"
    with app.websocket_connect("/v1/chat/ws", headers={"x-api-key": KEY}) as ws:
        ws.send_text(chat("hi"))
        assert content(until(ws, finished)) == "echo: hi"


# --- the chat socket -------------------------------------------------------------------------------------


def test_chat_turns_keep_one_session_and_send_only_new_messages(client):
    with client().websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        session = dict(ws.extra_headers)[b"x-session-id"].decode()
        ws.send_text(chat("first", stream_options={"include_usage": True}))
        first = until(ws, finished)
        usage = json.loads(ws.receive_text())
        ws.send_text(chat("[[history]]"))
        second = until(ws, finished)
    assert {c["object"] for c in first} == {"chat.completion.chunk"}
    assert content(first) == "echo: first"
    assert first[-1]["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    assert json.loads(content(second))["history"] == [["user", "first"], ["assistant", "echo: first"]]
    assert session.startswith("ws-")


def test_the_next_chat_turn_may_follow_the_last_chunk_at_once(client):
    """The turn before may still be closing (its ledger entry, its session's lock): the next one is
    not refused for that, it waits its turn on the session."""
    with client().websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        answers = []
        for i in range(4):
            ws.send_text(chat(f"turn {i}"))
            answers.append(content(until(ws, finished)))
    assert answers == [f"echo: turn {i}" for i in range(4)]


def test_chat_cancel_stops_the_turn_and_the_next_turn_is_served(client):
    with client().websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        ws.send_text(chat("[[slow]] " + "word " * 200))
        ws.receive_text()  # the turn has started
        ws.send_text(json.dumps({"type": "cancel"}))
        rest = until(ws, finished)
        ws.send_text(chat("[[history]]"))
        after = until(ws, finished)
    assert rest[-1]["error"]["code"] == "cancelled"
    assert not any(c.get("choices") and c["choices"][0].get("finish_reason") for c in rest)
    assert json.loads(content(after))["history"] == []  # the cancelled turn left no trace


def test_chat_bad_messages_are_errors_in_the_openai_envelope_and_the_socket_stays(client):
    with client(max_body_bytes=2000).websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        ws.send_text("[1, 2")
        bad_json = json.loads(ws.receive_text())
        ws.send_text(json.dumps({"model": "sonnet"}))
        missing = json.loads(ws.receive_text())
        ws.send_text(chat("x" * 3000))
        too_large = json.loads(ws.receive_text())
        ws.send_text(chat("hi", n=2))
        several = json.loads(ws.receive_text())
        ws.send_text(chat("ok"))
        served = until(ws, finished)
    assert bad_json["error"]["code"] == "invalid_json"
    assert missing["error"]["param"] == "messages"
    assert too_large["error"]["code"] == "request_too_large"
    assert several["error"]["param"] == "n"
    assert content(served) == "echo: ok"


def test_a_named_chat_session_outlives_its_socket(client):
    app = client()
    with app.websocket_connect("/v1/chat/ws", headers={**AUTH, "X-Session-Id": "mine"}) as ws:
        ws.send_text(chat("remember"))
        until(ws, finished)
    with app.websocket_connect("/v1/chat/ws", headers={**AUTH, "X-Session-Id": "mine"}) as ws:
        ws.send_text(chat("[[history]]"))
        history = json.loads(content(until(ws, finished)))["history"]
    assert history == [["user", "remember"], ["assistant", "echo: remember"]]
    assert app.get("/v1/sessions/mine", headers=AUTH).status_code == 200


# --- the HTTP policies, on sockets ----------------------------------------------------------------------


def test_each_turn_on_a_socket_is_checked_like_a_request(client):
    """A key's rpm counts every turn, and a key revoked while its socket is open is refused at its
    next turn, as its next HTTP request would be."""
    app = client(admin_key="admin-0123456789abcdef-0123456789")
    admin = {"Authorization": "Bearer admin-0123456789abcdef-0123456789"}
    made = app.post("/admin/keys", json={"name": "limited", "rpm": 1}, headers=admin).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    with app.websocket_connect("/v1/chat/ws", headers=key) as ws:
        assert (b"x-ratelimit-limit-requests", b"1") in ws.extra_headers  # as on an HTTP answer
        ws.send_text(chat("one"))
        assert content(until(ws, finished)) == "echo: one"
        ws.send_text(chat("two"))
        limited = json.loads(ws.receive_text())
        assert app.delete(f"/admin/keys/{made['id']}", headers=admin).status_code == 200
        ws.send_text(chat("three"))
        revoked = json.loads(ws.receive_text())
    assert limited["error"]["code"] == "rate_limit_exceeded"
    assert revoked["error"]["code"] == "invalid_api_key"


def test_a_draining_gateway_refuses_new_sockets_and_new_turns(client):
    app = client()
    with app.websocket_connect("/v1/responses", headers=AUTH) as ws:
        app.app.state.gateway.traffic.draining = True
        ws.send_text(create("late"))
        refused_turn = json.loads(ws.receive_text())
    for path in ("/v1/responses", "/v1/chat/ws"):
        with pytest.raises(WebSocketDenialResponse) as refused:
            with app.websocket_connect(path, headers=AUTH):
                pass
        assert refused.value.status_code == 503
        assert refused.value.headers["retry-after"]
    assert refused_turn["status"] == 503 and refused_turn["error"]["code"] == "gateway_draining"
    assert refused_turn["error"]["headers"]["Retry-After"]


def test_a_keyless_gateway_refuses_sockets_from_web_pages(tmp_path, config_dir):
    """Browsers apply no same-origin rule to WebSockets: without this check any page open on the
    operator's machine could talk to Claude with the operator's credential."""
    with TestClient(create_app(make_settings(tmp_path))) as app:
        for path in ("ws://localhost/v1/responses", "ws://localhost/v1/chat/ws"):
            with pytest.raises(WebSocketDenialResponse) as refused:
                with app.websocket_connect(path, headers={"Origin": "https://evil.example"}):
                    pass
            assert refused.value.status_code == 403
            assert refused.value.json()["error"]["code"] == "keyless_gateway"
        with app.websocket_connect("ws://localhost/v1/chat/ws", headers={"Origin": "http://localhost:8000"}) as ws:
            ws.send_text(chat("local"))
            assert content(until(ws, finished)) == "echo: local"


def test_a_socket_is_one_request_log_line_with_its_turns(client):
    """The gateway logs each request itself (uvicorn's access log is off): a socket, refused or
    served, is a line too."""

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    logger = logging.getLogger("claude_gateway.requests")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app = client()
        with pytest.raises(WebSocketDenialResponse):
            with app.websocket_connect("/v1/chat/ws"):
                pass
        with app.websocket_connect("/v1/chat/ws", headers={**AUTH, "X-Session-Id": "logged"}) as ws:
            for text in ("one", "two"):
                ws.send_text(chat(text))
                until(ws, finished)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    refused, served = request_lines(stream)
    assert (refused["method"], refused["path"], refused["status"]) == ("WS", "/v1/chat/ws", 401)
    assert (served["method"], served["status"], served["door"], served["turns"]) == ("WS", 101, "chat", 2)
    assert served["session"] == "logged" and served["output_tokens"] > 0


def test_a_socket_turn_cut_by_the_drain_closes_the_socket_with_1012(client):
    """The drain waits for a socket's turn like any other, and cuts it when its time is up."""
    app = client()
    gateway = app.app.state.gateway
    with app.websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        ws.send_text(chat("[[slow]] " + "word " * 200))
        ws.receive_text()  # the turn has started
        assert len(gateway.traffic.turns) == 1
        assert ws.portal.call(cut_turns, gateway) == 1
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
    assert closed.value.code == 1012


def test_file_ids_on_both_sockets_are_the_callers_uploads(client):
    """A socket's request resolves file ids as its HTTP door does: an unknown id is a 400 naming
    it (not a part the translator cannot read), and the caller's own file is served."""
    gateway = client()
    uploaded = gateway.post(
        "/v1/files", headers=AUTH, files={"file": ("notes.txt", b"plain words")}, data={"purpose": "user_data"}
    )
    assert uploaded.status_code == 200, uploaded.text
    file_id = uploaded.json()["id"]

    def part(fid: str) -> list[dict]:
        return [{"type": "text", "text": "read it"}, {"type": "file", "file": {"file_id": fid}}]

    with gateway.websocket_connect("/v1/chat/ws", headers=AUTH) as ws:
        ws.send_text(json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": part("file-nope")}]}))
        unknown = json.loads(ws.receive_text())
        ws.send_text(json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": part(file_id)}]}))
        served = until(ws, finished)
    assert unknown["error"]["code"] == "file_not_found", unknown
    assert served[-1]["choices"][0]["finish_reason"] == "stop", served
    item = {"role": "user", "content": [{"type": "input_file", "file_id": "file-nope"}]}
    with gateway.websocket_connect("/v1/responses", headers=AUTH) as ws:
        ws.send_text(json.dumps({"type": "response.create", "model": "sonnet", "input": [item]}))
        refused = until(ws, terminal)
        item["content"][0]["file_id"] = file_id
        ws.send_text(json.dumps({"type": "response.create", "model": "sonnet", "input": [item]}))
        answered = until(ws, terminal)
    assert refused[-1]["type"] == "error" and refused[-1]["error"]["code"] == "file_not_found", refused
    assert answered[-1]["type"] == "response.completed", answered[-1]
