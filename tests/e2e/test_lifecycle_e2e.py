"""Claude Code processes over their whole life, with the real CLI: however a turn ends, no CLI
outlives the pool's count of it; a CLI killed while it waits (parked, spare, holding a turn for
the client's function results) is noticed, and the next request still gets its answer with the
history intact."""

from __future__ import annotations

import json
import os
import signal
import threading

import httpx
import pytest

from tests.e2e.conftest import serve
from tests.fakes.upstream import Reply
from tests.support import alive, wait_until

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


@pytest.fixture(scope="module")
def keyless(upstream, cli_config_dir, tmp_path_factory):
    """A keyless gateway (its stats show the pool) without spares, whose turns time out after 3 s."""
    yield from serve(
        upstream, cli_config_dir, tmp_path_factory, "lifecycle", api_keys="", request_timeout="3", spare_processes="0"
    )


@pytest.fixture(scope="module")
def with_spares(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "lifecycle-spares", api_keys="", spare_processes="1")


def pool(gateway) -> dict:
    return httpx.get(f"{gateway.url}/v1/sessions/stats").json()["gateway"]["processes"]


def settled(gateway) -> bool:
    """Every CLI the OS knows of is one the pool counts, and none is on its way out."""
    figures = pool(gateway)
    return len(gateway.clis()) == figures["live"] and figures["exiting"] == 0


def chat(gateway, messages, **extra) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", timeout=60, json={"model": "sonnet", "messages": messages, **extra}
    )


def user(text):
    return {"role": "user", "content": text}


def test_a_timed_out_turn_leaves_no_cli_behind(keyless, fake):
    for _ in range(2):
        fake.enqueue(Reply(text="slow " * 30, chunk_size=5, delay=1.0))  # 30 s
        response = chat(keyless, [user("take your time")])
        assert response.status_code == 504
        assert wait_until(lambda: settled(keyless), timeout=15), (keyless.clis(), pool(keyless))


def test_a_client_that_leaves_mid_stream_leaves_no_cli_behind(keyless, fake):
    fake.enqueue(Reply(text="word " * 40, delay=0.1))
    with httpx.stream(
        "POST",
        f"{keyless.url}/v1/chat/completions",
        timeout=60,
        json={"model": "sonnet", "messages": [user("stream")], "stream": True},
    ) as response:
        for line in response.iter_lines():
            if '"content":"word' in line:
                break
    assert wait_until(lambda: settled(keyless) and pool(keyless)["live"] == 0, timeout=15)


@pytest.mark.parametrize(
    "reply, extra",
    [
        (Reply(status=500), {}),
        (Reply(text="cut off here", stop_reason="max_tokens"), {"max_tokens": 5}),
        (Reply(text="one two STOP three"), {"stop": ["STOP"]}),
    ],
)
def test_turns_that_end_early_leave_no_cli_behind(keyless, fake, reply, extra):
    fake.enqueue(reply)
    chat(keyless, [user("end early")], **extra)
    assert wait_until(lambda: settled(keyless), timeout=15), (keyless.clis(), pool(keyless))


def test_a_parked_cli_killed_is_noticed_and_the_conversation_resumes(keyless, fake):
    assert chat(keyless, [user("I am Ann.")], session_id="killed-parked").status_code == 200
    assert wait_until(lambda: pool(keyless)["parked"] == 1)
    (pid,) = keyless.clis()
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: pool(keyless)["live"] == 0)  # noticed with no request in between
    response = chat(keyless, [user("Who am I?")], session_id="killed-parked")
    assert response.status_code == 200, response.text
    turns = [m for m in fake.requests[-1]["messages"] if m["role"] in ("user", "assistant")]
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert "I am Ann." in json.dumps(turns[0])


def test_a_spare_killed_is_noticed_and_a_new_conversation_is_served(with_spares, fake):
    assert chat(with_spares, [user("first")]).status_code == 200
    assert wait_until(lambda: pool(with_spares)["spares"] == 1 and pool(with_spares)["live"] == 2, timeout=20)
    parked = set(pid for pid in with_spares.clis())
    spare_pid = max(parked)  # started after the conversation's own process
    os.kill(spare_pid, signal.SIGKILL)
    assert wait_until(lambda: pool(with_spares)["spares"] == 0 or spare_pid not in with_spares.clis())
    assert chat(with_spares, [user("second")]).status_code == 200


def test_a_held_turn_whose_cli_was_killed_is_rebuilt_with_the_results(keyless, fake):
    fake.enqueue(Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Oslo"}}]))
    messages = [user("Weather in Oslo?")]
    before = set(keyless.clis())
    first = chat(keyless, messages, tools=[WEATHER])
    assert first.json()["choices"][0]["finish_reason"] == "tool_calls"
    (call,) = first.json()["choices"][0]["message"]["tool_calls"]
    (pid,) = set(keyless.clis()) - before  # the process holding the turn
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not alive(pid) and settled(keyless))
    fake.enqueue(Reply(text="Sunny in Oslo."))
    messages += [
        first.json()["choices"][0]["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    second = chat(keyless, messages, tools=[WEATHER])
    assert second.status_code == 200, second.text
    assert second.json()["choices"][0]["message"]["content"] == "Sunny in Oslo."
    sent = json.dumps(fake.requests[-1]["messages"])
    assert call["id"] in sent and "sunny" in sent  # the call and its result reached Claude


def test_shutdown_during_a_stream_leaves_no_cli(upstream, cli_config_dir, tmp_path_factory, fake):
    server = next(serve(upstream, cli_config_dir, tmp_path_factory, "lifecycle-shutdown", api_keys=""))
    fake.enqueue(Reply(text="word " * 100, delay=0.1))
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        timeout=60,
        json={"model": "sonnet", "messages": [user("long")], "stream": True},
    ) as response:
        for line in response.iter_lines():
            if '"content":"word' in line:
                break
        clis = server.clis()
        assert clis
        server.stop()  # SIGTERM
    assert wait_until(lambda: not any(alive(pid) for pid in clis), timeout=15)


def nice_of(pid: int) -> int:
    from pathlib import Path

    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_a_killed_gateway_leaves_no_cli_behind(upstream, cli_config_dir, tmp_path_factory, fake):
    server = next(serve(upstream, cli_config_dir, tmp_path_factory, "lifecycle-sigkill", api_keys=""))
    # Claude thinks for 30 s before its first word: a CLI that writes nothing does not notice that
    # its reader is gone (no SIGPIPE), and would go on spending tokens until its turn ends.
    fake.default = lambda body: Reply(text="word " * 10, chunk_size=100, delay=30)
    calls = len(fake.requests)

    def turn(i: int) -> None:  # three streams, as in issue 14
        body = {"model": "sonnet", "messages": [user(f"long {i}")], "stream": True}
        try:
            with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=60) as response:
                for _ in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass  # the gateway is killed under it

    for i in range(3):
        threading.Thread(target=turn, args=(i,), daemon=True).start()
    assert wait_until(lambda: len(fake.requests) >= calls + 3, timeout=30)  # every turn is under way
    clis = server.clis()
    assert len(clis) >= 3
    server.process.kill()  # SIGKILL: no shutdown code runs
    server.process.wait()
    assert wait_until(lambda: not any(alive(pid) for pid in clis), timeout=5), [p for p in clis if alive(p)]


def test_spares_start_at_a_lower_priority_and_serve_at_the_normal_one(with_spares, fake):
    assert chat(with_spares, [user("first")]).status_code == 200
    assert wait_until(lambda: pool(with_spares)["spares"] >= 1 and len(with_spares.clis()) >= 2, timeout=20)
    niced = [pid for pid in with_spares.clis() if nice_of(pid) == 10]
    assert niced, [(pid, nice_of(pid)) for pid in with_spares.clis()]
    assert chat(with_spares, [user("second")]).status_code == 200  # takes the spare
    if os.geteuid() == 0:  # raising a priority needs root (or CAP_SYS_NICE)
        assert any(nice_of(pid) == 0 for pid in niced if alive(pid))
