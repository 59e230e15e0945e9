"""The batch runner on the real engine with the fake CLI: its share is capped and yields to
interactive turns, and a restart on the same data folder resumes a batch without losing a result
(the request that was running runs again)."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.support import ask

from .test_message_batches import batch_of, create, results, until


def runner_of(client):
    return client._transport.app.state.gateway.batches


async def running_count(runner, wanted: int) -> None:
    for _ in range(400):
        if len(runner.running) == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(runner.running)} batch requests running, not {wanted}")


async def test_no_more_than_the_setting_run_at_once(gateway):
    client, engine, _ = await gateway(batch_concurrency=2, max_processes=8)
    made = await create(client, batch_of(*["[[hang]]"] * 5))
    runner = runner_of(client)
    await running_count(runner, 2)
    for _ in range(6):  # rounds go by (POLL = 0.5 s): still two, and two CLI turns
        await asyncio.sleep(0.25)
        assert len(runner.running) == 2
    assert sum(1 for p in engine.processes if p.in_turn) == 2
    await client.post(f"/v1/messages/batches/{made['id']}/cancel")
    assert (await until(client, made["id"]))["request_counts"]["canceled"] == 5


async def test_interactive_turns_come_first(gateway):
    # Two process slots: an interactive turn in flight leaves one to the batch, though its share is 2.
    client, engine, _ = await gateway(batch_concurrency=2, max_processes=2)
    interactive = asyncio.create_task(client.post("/v1/chat/completions", json=ask("[[hang]]")))
    gateway_state = client._transport.app.state.gateway
    for _ in range(400):
        if gateway_state.traffic.turns and any(p.in_turn for p in engine.processes):
            break
        await asyncio.sleep(0.05)
    made = await create(client, batch_of(*["[[hang]]"] * 3))
    runner = runner_of(client)
    await running_count(runner, 1)
    for _ in range(6):
        await asyncio.sleep(0.25)
        assert len(runner.running) == 1
    interactive.cancel()  # the interactive turn ends: the batch may take its second slot
    await asyncio.gather(interactive, return_exceptions=True)
    await running_count(runner, 2)
    await client.post(f"/v1/messages/batches/{made['id']}/cancel")
    await until(client, made["id"])


async def test_a_restart_resumes_the_batch_and_loses_no_result(gateway, data_dir):
    client, _, _ = await gateway()
    slow = "[[slow]] " + "z" * 100  # about 2.5 s of chunks
    made = await create(client, batch_of("first", slow, "third"))
    runner = runner_of(client)
    for _ in range(400):  # the first has its result, the second is running
        rows = await runner.store.results(made["id"])
        if rows[0][1] == "succeeded" and (made["id"], 1) in runner.running:
            break
        await asyncio.sleep(0.05)
    first = (await runner.store.results(made["id"]))[0]
    await runner.stop()  # what the gateway's shutdown does; a killed one leaves the same store

    client, _, _ = await gateway()  # a second gateway on the same data folder
    runner_of(client).start()  # what its start-up (lifespan) does
    ended = await until(client, made["id"])
    assert ended["request_counts"]["succeeded"] == 3
    got = await results(client, ended)
    assert got["r0"]["message"] == first[2]["body"]  # kept, not run again
    assert got["r1"]["message"]["content"][0]["text"] == "echo: " + slow
    with sqlite3.connect(data_dir / "gateway.db") as db:
        statuses = [row[0] for row in db.execute("select status from usage where door = 'batch' order by id")]
    assert statuses.count("ok") == 3 and statuses.count("cancelled") == 1  # the cut one, run again


async def test_a_chat_request_with_n_choices_takes_one_process_slot_at_a_time(gateway):
    # A batch request's n choices run one after another: the share (1 here) caps the CLIs in turns,
    # as it does for n = 1; side by side they took n process slots from interactive traffic.
    from .test_openai_batches import create as create_openai
    from .test_openai_batches import line, upload

    client, engine, _ = await gateway(batch_concurrency=1, max_processes=8)
    made = await create_openai(client, await upload(client, line("c", "[[hang]]", n=3)))
    runner = runner_of(client)
    for _ in range(400):
        if any(p.in_turn for p in engine.processes):
            break
        await asyncio.sleep(0.05)
    for _ in range(6):
        await asyncio.sleep(0.25)
        assert sum(1 for p in engine.processes if p.in_turn) == 1
    await client.post(f"/v1/batches/{made['id']}/cancel")
    for _ in range(400):
        if not runner.running:
            break
        await asyncio.sleep(0.05)
    assert not any(p.in_turn for p in engine.processes)


async def test_a_batch_whose_end_keeps_failing_does_not_stop_the_others(gateway):
    # Oldest batch first: its end (OpenAI's files) failing on every round must not keep every
    # later batch, of any key, from running.
    from .test_openai_batches import create as create_openai
    from .test_openai_batches import line, upload

    client, _, _ = await gateway()
    runner = runner_of(client)

    async def broken(batch):
        raise RuntimeError("the output file cannot be written")

    runner.finalizers["openai"] = broken
    await create_openai(client, await upload(client, line("a", "alpha")))
    made = await create(client, batch_of("later"))
    ended = await until(client, made["id"])
    assert ended["request_counts"]["succeeded"] == 1
