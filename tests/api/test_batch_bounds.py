"""What one key may hold in batches (app/batches/bounds.py), on SQLite and on a real Redis: at
most GATEWAY_BATCH_MAX_OPEN_PER_KEY batches in progress (one more: 429 in the door's envelope), and
the batches' results count in the key's files quota with its uploads."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.core.events import Finish, TextDelta
from app.core.messages import Message
from tests.support import make_client

from .test_batch_fairness import slow
from .test_message_batches import batch_of, bearer, create, until
from .test_openai_batches import line, upload

MB = 1024 * 1024


@pytest.fixture(params=["sqlite", "redis"])
def store(request) -> dict:
    return {"redis_url": request.getfixturevalue("redis_url")} if request.param == "redis" else {}


def big(engine) -> None:
    """A prompt 'big N' is answered with N letters."""

    async def stream(turn):
        text = next((b["text"] for b in turn.prompt.content if b.get("type") == "text"), "")
        answer = "x" * int(text.split()[1]) if text.startswith("big ") else text
        yield TextDelta(answer)
        yield Finish("stop", message=Message("assistant", [{"type": "text", "text": answer}]))

    engine.stream = stream


def runner(client):
    return client._transport.app.state.gateway.batches


async def stopped(client) -> None:
    """Stop the runner: no request of it may go on (a stop that came while a round read Redis
    used to leave the request that round started running, its turn and all)."""
    await runner(client).stop()
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if "BatchRunner._run" in repr(t) and not t.done()]


async def test_a_key_has_at_most_its_open_batches(store):
    client, engine = make_client(api_keys="key-a,key-b", batch_max_open_per_key=2, **store)
    slow(engine, 30)  # nothing ends by itself
    try:
        first = await create(client, batch_of("one"), bearer("key-a"))
        await create(client, batch_of("two"), bearer("key-a"))
        refused = await client.post("/v1/messages/batches", json=batch_of("three"), headers=bearer("key-a"))
        assert refused.status_code == 429, refused.text
        assert refused.json()["type"] == "error" and refused.json()["error"]["type"] == "rate_limit_error"
        assert "GATEWAY_BATCH_MAX_OPEN_PER_KEY" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"]
        body = {"input_file_id": "file_x", "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        openai = await client.post("/v1/batches", json=body, headers=bearer("key-a"))  # both APIs together
        assert openai.status_code == 429 and openai.json()["error"]["code"] == "too_many_open_batches"
        await create(client, batch_of("other key"), bearer("key-b"))  # another key's count is its own

        await client.post(f"/v1/messages/batches/{first['id']}/cancel", headers=bearer("key-a"))
        await until(client, first["id"], headers=bearer("key-a"))
        await create(client, batch_of("three"), bearer("key-a"))  # one has ended: room again
    finally:
        await stopped(client)


async def test_concurrent_creates_do_not_pass_the_bound_together(store):
    client, engine = make_client(batch_max_open_per_key=3, **store)
    slow(engine, 30)
    try:
        sent = await asyncio.gather(*[client.post("/v1/messages/batches", json=batch_of("x")) for _ in range(8)])
        assert sorted(r.status_code for r in sent) == [200] * 3 + [429] * 5
    finally:
        await stopped(client)


async def test_anthropic_results_count_in_the_files_quota(store):
    client, engine = make_client(files_quota_mb=1, **store)
    big(engine)
    try:
        made = await create(client, batch_of("big 400000", "big 400000", "big 400000", "big 10"))
        ended = await until(client, made["id"])
        assert ended["request_counts"]["succeeded"] == 3 and ended["request_counts"]["errored"] == 1
        lines = (await client.get(ended["results_url"])).text.splitlines()
        assert '"errored"' in lines[3] and "files_quota_exceeded" not in lines[3]  # Anthropic's envelope
        assert "GATEWAY_FILES_QUOTA_MB" in lines[3] and '"request_too_large"' in lines[3]
        refused = await client.post("/v1/files", files={"file": ("a.txt", b"a")}, data={"purpose": "user_data"})
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "files_quota_exceeded"
        assert (await client.delete(f"/v1/messages/batches/{made['id']}")).status_code == 200
        taken = await client.post("/v1/files", files={"file": ("a.txt", b"a")}, data={"purpose": "user_data"})
        assert taken.status_code == 200, taken.text  # deleting the batch freed its results' room
    finally:
        await stopped(client)


async def test_openai_output_files_count_in_the_files_quota(store):
    client, engine = make_client(files_quota_mb=1, **store)
    big(engine)
    try:
        text = "\n".join(line(f"r{i}", f"big {n}") for i, n in enumerate((400000, 400000, 400000, 10)))
        body = {"input_file_id": await upload(client, text), "endpoint": "/v1/chat/completions"}
        made = (await client.post("/v1/batches", json=body | {"completion_window": "24h"})).json()
        for _ in range(600):
            batch = (await client.get(f"/v1/batches/{made['id']}")).json()
            if batch["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert batch["request_counts"] == {"total": 4, "completed": 3, "failed": 1}, batch
        error_file = await client.get(f"/v1/files/{batch['error_file_id']}/content")
        assert error_file.json()["response"]["body"]["error"]["code"] == "files_quota_exceeded"
        refused = await client.post("/v1/files", files={"file": ("a.txt", b"a")}, data={"purpose": "user_data"})
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "files_quota_exceeded"
        assert (await client.delete(f"/v1/files/{batch['output_file_id']}")).status_code == 200
        taken = await client.post("/v1/files", files={"file": ("a.txt", b"a")}, data={"purpose": "user_data"})
        assert taken.status_code == 200, taken.text  # the results count once: as the output file
    finally:
        await stopped(client)


async def test_results_are_read_from_the_store_a_page_at_a_time(store, monkeypatch):
    client, engine = make_client(**store)
    slow(engine, 30)
    gateway = client._transport.app.state.gateway
    try:
        made = await create(client, batch_of(*[f"q{i}" for i in range(1200)]))
        await client.post(f"/v1/messages/batches/{made['id']}/cancel")
        ended = await until(client, made["id"])
        pages: list[int] = []
        real = gateway.batches.store.results

        async def counting(*args, **kwargs):
            rows = await real(*args, **kwargs)
            pages.append(len(rows))
            return rows

        monkeypatch.setattr(gateway.batches.store, "results", counting)
        lines = (await client.get(ended["results_url"])).text.splitlines()
        assert [json.loads(x)["custom_id"] for x in lines] == [f"r{i}" for i in range(1200)]
        assert all('"canceled"' in x for x in lines)
        assert pages == [500, 500, 200, 0]  # never the whole batch at once
    finally:
        await stopped(client)
