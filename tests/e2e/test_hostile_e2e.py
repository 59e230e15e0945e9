"""A hostile client on a real server with the real CLI and a managed key: it hangs up right after
the headers, in the middle of the body, or after the first streamed chunk, on each of the three
doors; and a CLI is killed mid-turn. Afterwards the Claude processes the OS sees under the gateway
are exactly the pool's own count, the ledger has every cut or failed turn as a request, and the
next request is served."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading

import httpx
import pytest

from tests.e2e.conftest import serve
from tests.fakes.upstream import Reply
from tests.support import alive, wait_until

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-0123456789abcdef-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
DOORS = {
    "/v1/chat/completions": {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "go"}]},
    "/v1/messages": {
        "model": "sonnet",
        "stream": True,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "go"}],
    },
    "/v1/responses": {"model": "sonnet", "stream": True, "input": "go"},
}
SLOW = Reply(text="word " * 40, delay=0.1)  # about 4 s of deltas


@pytest.fixture(scope="module")
def hostile(upstream, cli_config_dir, tmp_path_factory):
    """A keyed gateway (admin key, managed keys) without spares, so every CLI is a turn's or a parked one."""
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "hostile",
        api_keys="",
        admin_key=ADMIN_KEY,
        secret_key="secret-0123456789abcdef-0123456789",
        spare_processes="0",
    )


@pytest.fixture(scope="module")
def key(hostile) -> dict:
    created = httpx.post(f"{hostile.url}/admin/keys", json={"name": "hostile"}, headers=ADMIN, timeout=10)
    assert created.status_code == 201, created.text
    return created.json()


def pool(server) -> dict:
    stats = httpx.get(f"{server.url}/v1/sessions/stats", headers=ADMIN, timeout=10).json()
    return stats["gateway"]["processes"]


def counts_match(server) -> bool:
    """The OS's count of the gateway's CLIs is the pool's own (live + on their way out)."""
    figures = pool(server)
    return len(server.clis()) == figures["live"] + figures["exiting"]


def settled(server) -> bool:
    return counts_match(server) and pool(server)["exiting"] == 0


def requests_of(server, key_id: str) -> int:
    usage = httpx.get(f"{server.url}/admin/usage", params={"key_id": key_id}, headers=ADMIN, timeout=10)
    assert usage.status_code == 200, usage.text
    return usage.json()["total"]["requests"]


def hang_up(server, key: str, path: str, body: bytes, when: str) -> bytes:
    """Send a request over a raw socket and close it: after the headers, mid-body, or once the
    first streamed text arrived. Answers what was read before hanging up."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        if when == "headers":
            sock.sendall(head)
        elif when == "mid_body":
            sock.sendall(head + body[: len(body) // 2])
        else:
            sock.sendall(head + body)
            while b"word" not in received:
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
    return received


@pytest.mark.parametrize("when", ["headers", "mid_body", "first_chunk"])
def test_a_client_that_hangs_up_leaves_no_stray_cli_and_its_turns_are_counted(hostile, key, fake, when):
    before = requests_of(hostile, key["id"])
    for path, body in DOORS.items():
        if when == "first_chunk":
            fake.enqueue(SLOW)
        received = hang_up(hostile, key["key"], path, json.dumps(body).encode(), when)
        assert when != "first_chunk" or received.startswith(b"HTTP/1.1 200"), received[:300]
        assert wait_until(lambda: settled(hostile), timeout=20), (hostile.clis(), pool(hostile))
    turns = 3 if when == "first_chunk" else 0  # a request whose body never came is no turn
    assert wait_until(lambda: requests_of(hostile, key["id"]) == before + turns), requests_of(hostile, key["id"])
    print(f"after {when}: {len(hostile.clis())} CLIs, pool {pool(hostile)}")
    # The gateway still serves this key.
    answer = httpx.post(
        f"{hostile.url}/v1/chat/completions",
        json={**DOORS["/v1/chat/completions"], "stream": False},
        headers={"Authorization": f"Bearer {key['key']}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert wait_until(lambda: settled(hostile), timeout=20), (hostile.clis(), pool(hostile))


def new_cli(server, before: set[int]) -> int:
    """The one CLI started since `before` (the one holding the new conversation's turn)."""
    assert wait_until(lambda: len(set(server.clis()) - before) == 1, timeout=20), (before, server.clis())
    (pid,) = set(server.clis()) - before
    return pid


def test_a_cli_killed_mid_turn_is_a_5xx_or_a_stream_error_and_the_next_request_works(hostile, key, fake):
    auth = {"Authorization": f"Bearer {key['key']}"}
    start = requests_of(hostile, key["id"])

    # Not streamed: the client gets a 5xx in OpenAI's envelope.
    fake.enqueue(SLOW)
    before, sent = set(hostile.clis()), len(fake.requests)
    result: dict = {}
    body = {**DOORS["/v1/chat/completions"], "stream": False}

    def ask() -> None:
        result["response"] = httpx.post(f"{hostile.url}/v1/chat/completions", json=body, headers=auth, timeout=60)

    thread = threading.Thread(target=ask)
    thread.start()
    pid = new_cli(hostile, before)
    assert wait_until(lambda: len(fake.requests) > sent)  # the turn reached Claude's API
    os.kill(pid, signal.SIGKILL)
    thread.join(60)
    response = result["response"]
    assert 500 <= response.status_code < 600, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"], error
    print(f"killed mid-turn: {response.status_code} {error}")
    assert wait_until(lambda: not alive(pid) and settled(hostile), timeout=20), (hostile.clis(), pool(hostile))

    # Streamed on Anthropic's door: the stream ends with an error event.
    fake.enqueue(SLOW)
    before = set(hostile.clis())
    with httpx.stream(
        "POST", f"{hostile.url}/v1/messages", json=DOORS["/v1/messages"], headers=auth, timeout=60
    ) as stream:
        lines = stream.iter_lines()
        for line in lines:
            if "word" in line:
                break
        pid = new_cli(hostile, before)
        os.kill(pid, signal.SIGKILL)
        rest = list(lines)
    assert "event: error" in rest, rest[-5:]
    print(f"killed mid-stream: {rest[-3:]}")
    assert wait_until(lambda: not alive(pid) and settled(hostile), timeout=20), (hostile.clis(), pool(hostile))

    # The next request works, and the ledger has all three turns.
    answer = httpx.post(f"{hostile.url}/v1/chat/completions", json=body, headers=auth, timeout=60)
    assert answer.status_code == 200, answer.text
    assert wait_until(lambda: requests_of(hostile, key["id"]) == start + 3), requests_of(hostile, key["id"])
    assert wait_until(lambda: settled(hostile), timeout=20), (hostile.clis(), pool(hostile))
    print(f"after kills: {len(hostile.clis())} CLIs, pool {pool(hostile)}")
