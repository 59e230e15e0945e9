"""The gateway's bounds on what one client can make it hold, measured on a real server (`python
main.py`, uvicorn, the fake `claude`): its memory (RSS, peak from /proc) under concurrent large
uploads, an upload refused from its Content-Length, a key's sockets and the messages queued on
them (with the `websockets` client), and connections that never finish their headers (slowloris)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import FAKE_CLAUDE, GatewayServer

MB = 1024 * 1024
KEYS = ("key-memory", "key-quota", "key-sockets")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits-server")
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "CLAUDE_CONFIG_DIR": str(tmp / "claude-config"),
        "GATEWAY_API_KEYS": ",".join(KEYS),
        "GATEWAY_FILES_QUOTA_MB": "130",  # four 31 MB files fit, a fifth does not
        "GATEWAY_BODY_READ_TIMEOUT": "8",
        "GATEWAY_HEADER_READ_TIMEOUT": "2",
        "GATEWAY_WS_MAX_SOCKETS_PER_KEY": "2",
        "GATEWAY_SPARE_PROCESSES": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    gateway = GatewayServer(env, tmp).start()
    yield gateway
    gateway.stop()


def memory(pid: int, field: str) -> int:
    """A /proc/<pid>/status memory field (VmRSS, VmHWM: the peak), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def reset_peak(pid: int) -> int:
    """Start VmHWM again from the current RSS (Linux's clear_refs); that RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return memory(pid, "VmRSS")


def upload(server: GatewayServer, key: str, data: bytes, name: str = "big.bin") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/files",
        headers={"Authorization": f"Bearer {key}"},
        data={"purpose": "user_data"},
        files={"file": (name, data, "application/octet-stream")},
        timeout=120,
    )


def test_concurrent_large_uploads_are_not_held_in_memory(server):
    data = os.urandom(31 * MB)
    assert upload(server, KEYS[0], b"warm-up", "small.txt").status_code == 200
    pid = server.process.pid
    before = reset_peak(pid)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: upload(server, KEYS[0], data, f"{n}.bin"), range(4)))
    grown = memory(pid, "VmHWM") - before
    assert [a.status_code for a in answers] == [200] * 4, answers[0].text
    # Read whole, parsed, read again and copied by the store, four 31 MB bodies grew the peak by
    # about 5 x 124 MB; streamed to a spooled file and written from it, by a few MB.
    assert grown < 31 * MB, f"the peak RSS grew by {grown / MB:.0f} MB for {4 * 31} MB of uploads"
    stored = httpx.get(
        f"{server.url}/v1/files/{answers[2].json()['id']}/content",
        headers={"Authorization": f"Bearer {KEYS[0]}"},
        timeout=60,
    )
    assert hashlib.sha256(stored.content).digest() == hashlib.sha256(data).digest()


def answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the one answer on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
def test_an_upload_past_the_quota_is_refused_from_its_content_length_before_its_body(server, anthropic):
    if not anthropic:  # fill the key's quota once: 124 of 130 MB
        for n in range(4):
            assert upload(server, KEYS[1], b"x" * (31 * MB), f"{n}.bin").status_code == 200
    extra = "anthropic-version: 2023-06-01\r\nanthropic-beta: files-api-2025-04-14\r\n" if anthropic else ""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEYS[1]}\r\n{extra}"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {31 * MB}\r\n\r\n--b\r\n"
            ).encode()
        )
        started = time.monotonic()
        status, body = answer(sock)  # without the body: answered at once, not after 8 s (408)
        waited = time.monotonic() - started
    assert status == 413, body
    assert waited < 4, f"answered after {waited:.1f} s"
    if anthropic:
        assert body["type"] == "error" and body["error"]["type"] == "request_too_large"  # Anthropic's 413
    else:
        assert body["error"]["code"] == "files_quota_exceeded"


def create(text: str, **fields) -> str:
    return json.dumps({"type": "response.create", "model": "sonnet", "input": text, **fields})


def test_a_keys_sockets_and_their_queued_messages_are_bounded(server):
    url = f"ws://127.0.0.1:{server.port}/v1/responses"
    headers = {"Authorization": f"Bearer {KEYS[2]}"}
    padding = "x" * (10 * MB)
    sockets = [connect(url, additional_headers=headers, max_size=None, ping_interval=None) for _ in range(2)]
    try:
        for ws in sockets:
            ws.send(create("[[hang]]"))  # a response that runs until the socket closes
        for n in range(6):
            for ws in sockets:
                ws.send(create(f"queued {n}", padding=padding))
        refused = []
        for ws in sockets:  # three 10 MB messages wait (32 MB, GATEWAY_WS_MAX_QUEUED_BYTES); the rest are refused
            while len(refused) < (3 if ws is sockets[0] else 6):
                event = json.loads(ws.recv(timeout=60))
                refused.append(event["error"]["code"] if event["type"] == "error" else event["type"])
        # A third socket of the key is refused: two is its limit here (GATEWAY_WS_MAX_SOCKETS_PER_KEY).
        with connect(url, additional_headers=headers, open_timeout=30) as third:
            refusal = json.loads(third.recv(timeout=30))
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=30)
    finally:
        for ws in sockets:
            ws.close()
    assert refused == ["too_many_queued_bytes"] * 6
    assert refusal["error"]["code"] == "websocket_connection_limit_reached"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_connections_that_never_finish_their_headers_are_closed_and_others_are_served(server):
    pid = server.process.pid
    before = memory(pid, "VmRSS")
    slow = []
    for n in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{n}: ".encode())
        slow.append(sock)
    try:
        started = time.monotonic()
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 2
        grown = memory(pid, "VmRSS") - before
        deadline = time.monotonic() + 15
        for sock in slow:  # the header deadline (2 s here) answers 408 and closes each
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert data.startswith(b"HTTP/1.1 408"), data
    finally:
        for sock in slow:
            sock.close()
    assert grown < 20 * MB
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
