"""SIGTERM drains, with the real CLI behind a real uvicorn: a stream in flight finishes with all its
text while new turns get 503 with Retry-After and readiness fails, then the gateway exits 0 and no
Claude process of it remains; past GATEWAY_DRAIN_TIMEOUT a stream still running is cut, and again
no Claude process remains."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply
from tests.support import alive, wait_until

pytestmark = pytest.mark.e2e

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
WORDS = 40


def stream_request(gateway):
    body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "stream slowly"}]}
    return httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers=HEADERS, json=body, timeout=60)


def first_words(lines) -> list[str]:
    """Read SSE data lines until the first content delta; the deltas seen."""
    for line in lines:
        if line.startswith("data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                return [delta]
    raise AssertionError("the stream ended before its first word")


def rest_of(lines) -> tuple[list[str], str | None, bool]:
    """The remaining deltas, the finish reason and whether [DONE] came."""
    deltas, finish, done = [], None, False
    for line in lines:
        if line == "data: [DONE]":
            done = True
        elif line.startswith("data: {"):
            choice = json.loads(line[6:])["choices"][0]
            deltas.append(choice["delta"].get("content") or "")
            finish = choice.get("finish_reason") or finish
    return deltas, finish, done


def clis_in(folder: Path) -> list[int]:
    """Live processes working in `folder` (the gateway's work folder: its Claude Code CLIs), even
    orphans that are no longer the gateway's children."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(folder)):
                found.append(int(entry))
    return found


def none_left(gateway, seen: set[int]) -> bool:
    return not [pid for pid in seen if alive(pid)] and not clis_in(Path(gateway.env["GATEWAY_WORK_DIR"]))


def test_sigterm_lets_a_stream_finish_refuses_new_turns_and_exits_cleanly(
    upstream, cli_config_dir, tmp_path_factory, fake
):
    gateway = next(serve(upstream, cli_config_dir, tmp_path_factory, "drain", drain_timeout="60"))
    try:
        fake.enqueue(Reply(text="word " * WORDS, chunk_size=5, delay=0.15))
        with stream_request(gateway) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            words = first_words(lines)
            seen = set(gateway.children())
            assert seen, "the turn runs in a Claude process"
            gateway.process.send_signal(signal.SIGTERM)

            # While the stream runs, the listener stays open: readiness fails, new turns get 503.
            assert wait_until(lambda: httpx.get(f"{gateway.url}/health/ready").status_code == 503, timeout=5)
            ready = httpx.get(f"{gateway.url}/health/ready").json()
            assert ready["status"] == "draining"
            assert httpx.get(f"{gateway.url}/health/live").status_code == 200
            refused = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                headers=HEADERS,
                json={"model": "sonnet", "messages": [{"role": "user", "content": "too late"}]},
                timeout=10,
            )
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["error"]["code"] == "gateway_draining"
            anthropic = httpx.post(
                f"{gateway.url}/v1/messages",
                headers={"x-api-key": API_KEY},
                json={"model": "sonnet", "max_tokens": 5, "messages": [{"role": "user", "content": "too late"}]},
                timeout=10,
            )
            assert anthropic.status_code == 503 and anthropic.json()["error"]["type"] == "overloaded_error"
            seen |= set(gateway.children())

            deltas, finish, done = rest_of(lines)
        assert "".join(words + deltas) == "word " * WORDS  # the whole answer
        assert finish == "stop" and done

        assert gateway.process.wait(timeout=60) == 0
        assert wait_until(lambda: none_left(gateway, seen), timeout=5)
        with pytest.raises(httpx.ConnectError):  # once the drain is over, the listener is closed
            httpx.get(f"{gateway.url}/health/live", timeout=2)
        log = gateway.log()
        assert "draining" in log and "Traceback" not in log
    finally:
        gateway.stop()


def test_a_stream_longer_than_the_drain_timeout_is_cut_and_no_cli_remains(
    upstream, cli_config_dir, tmp_path_factory, fake
):
    gateway = next(serve(upstream, cli_config_dir, tmp_path_factory, "drain-timeout", drain_timeout="1"))
    try:
        fake.enqueue(Reply(text="word " * WORDS, chunk_size=5, delay=0.5))  # 20 s
        with stream_request(gateway) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            words = first_words(lines)
            seen = set(gateway.children())
            gateway.process.send_signal(signal.SIGTERM)
            try:
                deltas, _, done = rest_of(lines)
            except httpx.HTTPError:  # the connection closed mid-body
                deltas, done = [], False
        assert not done and len(words + deltas) < WORDS  # cut, not finished

        assert gateway.process.wait(timeout=30) == 0
        assert wait_until(lambda: none_left(gateway, seen), timeout=5)
        log = gateway.log()
        assert "drain timeout: cutting 1 turn(s)" in log and "Traceback" not in log
    finally:
        gateway.stop()
