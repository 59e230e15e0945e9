"""What only a real HTTP server shows: the gateway as `python main.py` (uvicorn) on the fake
`claude` executable, driven over raw sockets and httpx. Slow request bodies, and response headers
rendered from what the client sent."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import FAKE_CLAUDE, GatewayServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real-server")
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "CLAUDE_CONFIG_DIR": str(tmp / "claude-config"),
        "GATEWAY_BODY_READ_TIMEOUT": "1",
        "GATEWAY_SPARE_PROCESSES": "0",
        # The fake is a python3 script: find the test interpreter first.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    gateway = GatewayServer(env, tmp).start()
    yield gateway
    gateway.stop()


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("path, envelope", [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")])
def test_a_body_that_never_fully_arrives_is_answered_408_and_the_connection_closed(server, path, envelope):
    sockets = []
    for _ in range(20):  # each promises 100 bytes and sends 9
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)  # a hang fails, not waits
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f'Content-Length: 100\r\n\r\n{{"model":'.encode()
        )
        sockets.append(sock)
    for sock in sockets:
        with sock:
            head, _, body = answer_of(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), head
        error = json.loads(body)
        if envelope == "openai":
            assert error["error"]["code"] == "request_timeout"
        else:
            assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert httpx.get(f"{server.url}/health").status_code == 200


HOSTILE_NAMES = {"a\r\nSet-Cookie: x=1": 1, "\u6e29\u5ea6": 2, "nul\u0000": 3}  # CR/LF, not latin-1, NUL
DOORS = [
    ("/v1/chat/completions", {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/messages", {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/responses", {"model": "sonnet", "input": "hi"}),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path, body", DOORS, ids=["chat", "messages", "responses"])
def test_unknown_field_names_cannot_break_the_response_headers(server, path, body, stream):
    response = httpx.post(f"{server.url}{path}", json={**body, **HOSTILE_NAMES, "stream": stream}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-ignored-params"] == "a%0D%0ASet-Cookie%3A%20x%3D1,nul%00,%E6%B8%A9%E5%BA%A6"
    assert "set-cookie" not in response.headers
    assert "hi" in response.text  # the turn ran and its answer came through


def test_a_client_that_leaves_mid_body_is_not_logged_as_a_failure(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":'
        )
    time.sleep(0.5)  # for the server to read the hang-up
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert "unhandled error" not in server.log() and "Traceback" not in server.log()


def test_a_stream_the_client_leaves_is_in_the_ledger_with_the_tokens_claude_had_used(server):
    # The fake CLI streams a chunk every 0.1 s after its message_start (input 10, cache read 3,
    # cache creation 2): the client reads one chunk and hangs up.
    def total() -> dict:
        return httpx.get(f"{server.url}/v1/usage", timeout=10).json()["total"]

    before = total()
    body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "[[slow]] a b c d e f g h"}]}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        next(response.iter_lines())
    deadline = time.monotonic() + 20
    while total()["requests"] == before["requests"] and time.monotonic() < deadline:
        time.sleep(0.1)
    after = total()
    counts = ("requests", "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    assert [after[count] - before[count] for count in counts] == [1, 10, 3, 2]


async def test_a_socket_message_may_be_as_large_as_a_request_body(server):
    """uvicorn's own limit for a WebSocket message (16 MiB) is below GATEWAY_MAX_BODY_BYTES (20 MiB):
    main.py gives the socket the body's limit, so a large message is read (here: answered as the
    bad JSON it is) instead of the socket being closed with 1009."""
    from websockets.asyncio.client import connect

    url = server.url.replace("http://", "ws://") + "/v1/chat/ws"
    async with connect(url, max_size=None) as ws:
        await ws.send("[" * 17 * 1024 * 1024)
        answer = json.loads(await ws.recv())
        assert answer["error"]["code"] == "invalid_json"
