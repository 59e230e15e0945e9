"""Batches with replicas (GATEWAY_REDIS_URL), on scripted engines: any replica finds, reads,
cancels and deletes a batch another one runs, and a batch whose replica died is adopted once its
lease lapses, losing no finished result."""

from __future__ import annotations

import asyncio

import pytest

from app.core.events import Finish, TextDelta
from app.core.messages import Message

from .test_message_batches import batch_of
from .test_replicas import gated, replica


@pytest.fixture
def replicas(redis_url, monkeypatch):
    monkeypatch.setattr("app.batches.redis.LEASE", 1.0)  # a dead replica's batches wait 1 s
    return replica(redis_url=redis_url), replica(redis_url=redis_url)


def runner(client):
    return client._transport.app.state.gateway.batches


async def until(client, batch_id: str) -> dict:
    for _ in range(400):
        batch = (await client.get(f"/v1/messages/batches/{batch_id}")).json()
        if batch["processing_status"] == "ended":
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(batch)


async def test_a_batch_made_on_one_replica_is_read_and_deleted_on_another(replicas):
    (a, _), (b, engine_b) = replicas
    made = (await a.post("/v1/messages/batches", json=batch_of("one", "two"))).json()
    seen = (await b.get(f"/v1/messages/batches/{made['id']}")).json()
    assert seen["id"] == made["id"] and sum(seen["request_counts"].values()) == 2
    assert [x["id"] for x in (await b.get("/v1/messages/batches")).json()["data"]] == [made["id"]]
    ended = await until(b, made["id"])
    assert ended["request_counts"]["succeeded"] == 2 and engine_b.turns == []  # ran on A
    lines = (await b.get(ended["results_url"])).text.splitlines()
    assert [line.count('"succeeded"') for line in lines] == [1, 1]
    assert (await b.delete(f"/v1/messages/batches/{made['id']}")).status_code == 200
    assert (await a.get(f"/v1/messages/batches/{made['id']}")).status_code == 404


async def test_a_cancel_on_another_replica_stops_the_running_request(replicas):
    (a, engine_a), (b, _) = replicas
    gated(engine_a)  # A's turns wait for ever
    made = (await a.post("/v1/messages/batches", json=batch_of("one", "two", "three"))).json()
    for _ in range(200):
        if runner(a).running:
            break
        await asyncio.sleep(0.05)
    assert (await b.post(f"/v1/messages/batches/{made['id']}/cancel")).json()["cancel_initiated_at"]
    ended = await until(a, made["id"])
    assert ended["request_counts"]["canceled"] == 3
    assert not runner(a).running  # A's turn was cancelled


async def test_a_dead_replicas_batch_is_adopted_and_finished_results_kept(replicas):
    (a, engine_a), (b, engine_b) = replicas
    answered = asyncio.Event()

    async def first_then_hang(turn):  # A answers the first request, then hangs on the next
        engine_a.turns.append(turn)
        if len(engine_a.turns) > 1:
            await asyncio.Event().wait()
        yield TextDelta("from A")
        yield Finish("stop", message=Message("assistant", [{"type": "text", "text": "from A"}]))
        answered.set()

    engine_a.stream = first_then_hang
    made = (await a.post("/v1/messages/batches", json=batch_of("one", "two", "three"))).json()
    await answered.wait()
    for _ in range(200):  # A is in its second request's turn
        if len(engine_a.turns) == 2:
            break
        await asyncio.sleep(0.02)
    await runner(a).stop()  # A dies: its lease lapses (1 s here)
    runner(b).start()
    try:
        ended = await until(b, made["id"])
    finally:
        await runner(b).stop()
    assert ended["request_counts"]["succeeded"] == 3
    assert len(engine_b.turns) == 2  # the cut request and the one never started; not the first again
    lines = (await b.get(ended["results_url"])).text.splitlines()
    assert '"from A"' in lines[0] and all('"from A"' not in line for line in lines[1:])
