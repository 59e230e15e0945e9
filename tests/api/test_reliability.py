"""What must hold however a turn ends: no process outside the pool's count, no session left half
done, dead processes noticed at once, and every bound kept. The real engine drives the fake CLI."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import threading
import time

import pytest

from tests.support import ask, descendants


def cli_children() -> list[int]:
    """This test process's fake CLI children (the pytest process is the gateway here)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"fake_claude" in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(autouse=True)
def earlier_children():
    """CLIs left by earlier tests (if a regression leaks some), not counted against this one."""
    return set(cli_children())


async def settled(engine, earlier: set[int], timeout: float = 10.0) -> None:
    """Until every CLI the OS knows of is one the pool counts, and none is still exiting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(set(cli_children()) - earlier) == len(engine.pool.processes) and not engine.pool.exiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"OS children {set(cli_children()) - earlier} vs pool {engine.pool.stats()}")


# --- every way a turn ends leaves no process behind ------------------------------------------------
# (Clients that leave mid-stream: tests/e2e/test_lifecycle_e2e.py, over a real socket; the in-process
# transport reads every response to its end.)
@pytest.mark.parametrize(
    "prompt, extra, status",
    [
        ("[[hang]]", {}, 504),  # the request timeout
        ("[[error 500]]", {}, 502),
        ("[[crash]]", {}, 502),
        ("[[max_tokens]] hi", {}, 200),
        ("[[long 50]]", {"stop": ["w7"]}, 200),
    ],
)
async def test_no_cli_outlives_the_pools_count_however_a_turn_ends(gateway, earlier_children, prompt, extra, status):
    client, engine, _ = await gateway(request_timeout=1, spare_processes=0)
    for _ in range(3):  # the leak was one process per timed-out turn
        response = await client.post("/v1/chat/completions", json=ask(prompt, **extra))
        assert response.status_code == status, response.text
        await settled(engine, earlier_children)


async def test_shutdown_ends_every_process(gateway, earlier_children):
    client, engine, _ = await gateway(spare_processes=1)
    await client.post("/v1/chat/completions", json=ask("keep me", session_id="kept"))
    task = asyncio.create_task(client.post("/v1/chat/completions", json=ask("[[slow]] " + "w " * 40)))
    await asyncio.sleep(0.3)
    await engine.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert set(cli_children()) - earlier_children == set()


# --- a CLI that dies is noticed, and the next turn does not fail -----------------------------------
async def test_a_dead_spare_frees_its_slot_without_anyone_using_it(gateway):
    client, engine, _ = await gateway(spare_processes=1)
    await client.post("/v1/chat/completions", json=ask("first"))
    for _ in range(200):
        if engine.pool.stats()["spares"] == 1 and all(p.alive for p in engine.pool.processes):
            break
        await asyncio.sleep(0.05)
    spare = next(p for spares in engine.pool.spares.by_key.values() for p in spares)
    os.kill(spare.pid, signal.SIGKILL)
    for _ in range(100):
        if engine.pool.stats()["spares"] == 0 and spare not in engine.pool.processes:
            break
        await asyncio.sleep(0.05)
    assert engine.pool.stats()["spares"] == 0 and spare not in engine.pool.processes
    response = await client.post("/v1/chat/completions", json=ask("second"))
    assert response.status_code == 200


async def test_a_reused_process_that_dies_as_the_turn_starts_is_replaced_once(gateway, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_DIE_AT_USER_MESSAGE", "2")  # every process dies at its 2nd message
    client, engine, _ = await gateway(spare_processes=0)
    await client.post("/v1/chat/completions", json=ask("I am Ann.", session_id="s"))
    response = await client.post("/v1/chat/completions", json=ask("[[history]]", session_id="s"))
    assert response.status_code == 200, response.text  # not the dead process's 502
    assert '["user", "I am Ann."]' in response.json()["choices"][0]["message"]["content"]


# --- bounds -----------------------------------------------------------------------------------------
async def test_exiting_processes_count_toward_the_limit(gateway, earlier_children, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_EXIT_DELAY", "0.5")  # each CLI takes 0.5 s to exit
    client, engine, _ = await gateway(max_processes=1, spare_processes=0)
    await engine._warm_up
    await settled(engine, earlier_children)
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen.append(len(set(cli_children()) - earlier_children))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for name in ("a", "b", "c"):  # each new conversation evicts the one before
            assert (await client.post("/v1/chat/completions", json=ask("hi", session_id=name))).status_code == 200
    finally:
        stop.set()
        sampler.join()
    assert max(seen) == 1


async def test_failed_stateless_requests_leave_no_session_or_conversation(gateway, earlier_children):
    client, engine, _ = await gateway(spare_processes=0)
    for _ in range(5):
        assert (await client.post("/v1/chat/completions", json=ask("[[error 500]]"))).status_code == 502
    for _ in range(5):
        assert (await client.post("/v1/chat/completions", json=ask("[[crash]]", stream=True))).status_code == 502
    await settled(engine, earlier_children)
    assert (await client.get("/v1/sessions")).json()["data"] == []
    assert engine.conversations == {}


async def test_a_stateless_session_keeps_no_image_bytes_and_still_continues(gateway):
    client, engine, _ = await gateway(spare_processes=0)
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(300_000)).decode()
    history = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
            ],
        }
    ]
    first = await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": history})
    session_id = first.headers["x-session-id"]
    kept = (await client.get(f"/v1/sessions/{session_id}")).json()["messages"]
    assert image not in str(kept) and "image/png image of" in str(kept)
    answer = first.json()["choices"][0]["message"]["content"]
    follow = [*history, {"role": "assistant", "content": answer}, {"role": "user", "content": "[[turns]]"}]
    second = await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": follow})
    assert second.headers["x-session-id"] == session_id  # continued, on the live process
    assert second.json()["choices"][0]["message"]["content"] == "turns: 2"
