"""deploy/nginx.conf run for real (Debian's nginx; skipped without it) in front of two real
gateways on the fake `claude`: the file loads as written (only the upstreams' and the listener's
addresses changed for this machine), a stream arrives whole through it, requests without
X-Session-Id reach both replicas, and the requests of one X-Session-Id all reach the same one.

The two gateways share no Redis here: each keeps its own sessions, which is what shows where a
request landed (a session lives on the replica that served it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import FAKE_CLAUDE, ROOT, GatewayServer, free_port, wait_until

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
KEY = "sk-nginx-test"
AUTH = {"Authorization": f"Bearer {KEY}"}

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)")


def start_gateway(tmp: Path) -> GatewayServer:
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "CLAUDE_CONFIG_DIR": str(tmp / "claude-config"),
        "GATEWAY_SPARE_PROCESSES": "0",
        "GATEWAY_API_KEYS": KEY,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the fake is python3
    }
    return GatewayServer(env, tmp).start()


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    started: list[GatewayServer] = []
    try:
        for name in ("nginx-gateway-1", "nginx-gateway-2"):
            started.append(start_gateway(tmp_path_factory.mktemp(name)))  # a data folder each
        yield started
    finally:
        for server in started:
            server.stop()


def local_conf(tmp: Path, upstream_ports: list[int], port: int) -> Path:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = [(f"server gateway-{n}:8000;", f"server 127.0.0.1:{p};") for n, p in enumerate(upstream_ports, 1)]
    for old, new in [
        *replacements,
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("pid /tmp/nginx.pid;", f"pid {tmp}/nginx.pid;"),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    assert "gateway-" not in text.split("upstream gateway", 1)[1].split("}", 1)[0], "a replica left unreplaced"
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def proxy(gateways, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = local_conf(tmp, [g.port for g in gateways], port)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: up(url), timeout=30), process.stderr.read() if process.poll() is not None else ""
        yield url
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown, master and workers
        process.wait(timeout=30)


def sessions_on(gateway: GatewayServer) -> set[str]:
    """The sessions a gateway holds, asked directly (not through nginx)."""
    response = httpx.get(f"{gateway.url}/v1/sessions", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return {session["id"] for session in response.json()["data"]}


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_stream_arrives_whole_through_nginx(proxy):
    body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "hello through nginx"}]}
    with httpx.stream("POST", f"{proxy}/v1/chat/completions", json=body, headers=AUTH, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: hello through nginx"


def test_a_session_named_by_header_continues_through_nginx(proxy):
    headers = {**AUTH, "X-Session-Id": "nginx-session-1"}
    answers = []
    for _ in range(2):
        body = {"model": "sonnet", "messages": [{"role": "user", "content": "[[turns]]"}]}
        response = httpx.post(f"{proxy}/v1/chat/completions", json=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        assert response.headers["x-session-id"] == "nginx-session-1"
        answers.append(response.json()["choices"][0]["message"]["content"])
    assert answers == ["turns: 1", "turns: 2"]


def test_keys_are_still_required_behind_nginx(proxy):
    response = httpx.get(f"{proxy}/v1/models", timeout=30)
    assert response.status_code == 401
    assert "error" in response.json()


def test_requests_without_a_session_header_reach_both_replicas(proxy, gateways):
    before = [sessions_on(g) for g in gateways]
    named = set()
    for n in range(6):
        body = {"model": "sonnet", "messages": [{"role": "user", "content": f"spread {n}"}]}
        response = httpx.post(f"{proxy}/v1/chat/completions", json=body, headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        named.add(response.headers["x-session-id"])
    new = [sessions_on(g) - old for g, old in zip(gateways, before, strict=True)]
    assert new[0] | new[1] == named
    assert new[0] and new[1], new  # round robin: an empty hash key is not one fixed replica


def test_one_session_header_always_reaches_the_same_replica(proxy, gateways):
    for n in range(4):
        session = f"nginx-sticky-{n}"
        headers = {**AUTH, "X-Session-Id": session}
        answers = []
        for _ in range(3):
            body = {"model": "sonnet", "messages": [{"role": "user", "content": "[[turns]]"}]}
            response = httpx.post(f"{proxy}/v1/chat/completions", json=body, headers=headers, timeout=60)
            assert response.status_code == 200, response.text
            answers.append(response.json()["choices"][0]["message"]["content"])
        assert answers == ["turns: 1", "turns: 2", "turns: 3"]  # no Redis here: a move would restart it
        holders = [g for g in gateways if session in sessions_on(g)]
        assert len(holders) == 1, session
