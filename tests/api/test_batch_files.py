"""A batch's create checks the files its requests name without reading them (app/files/resolve.py
`checker`): one lookup per different file, none of its content; each request reads its files when
it runs. Before, 100,000 requests naming one file read and base64-encoded it 100,000 times."""

from __future__ import annotations

import asyncio
import base64

import pytest

from app.doors import batch as doors
from tests.support import make_client

from .test_message_batches import params

PDF = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)  # a 2 MiB document


def about(file_id: str, text: str = "read it") -> dict:
    document = {"type": "document", "source": {"type": "file", "file_id": file_id}}
    return params(text) | {"messages": [{"role": "user", "content": [document, {"type": "text", "text": text}]}]}


def counted(monkeypatch, files) -> dict[str, int]:
    """Count the files store's lookups and content reads made by requests to the API (not by the
    runner's requests); the real store answers them."""
    calls = {"get": 0, "content": 0}
    for name in calls:
        real = getattr(files, name)

        async def counting(*args, _real=real, _name=name, **kwargs):
            if "BatchRunner._run" not in repr(asyncio.current_task()):
                calls[_name] += 1
            return await _real(*args, **kwargs)

        monkeypatch.setattr(files, name, counting)
    return calls


@pytest.fixture(params=["sqlite", "redis"])
def store(request) -> dict:
    return {"redis_url": request.getfixturevalue("redis_url")} if request.param == "redis" else {}


@pytest.fixture
def references(store) -> int:
    """How many requests name the file: Anthropic's most on SQLite; on Redis, fewer (the store's
    lookups do not depend on the count, and the suite's time does)."""
    return 10_000 if store else 100_000


async def test_a_batch_naming_one_big_file_100000_times_reads_it_only_when_each_runs(store, references, monkeypatch):
    client, engine = make_client(max_body_bytes=64 * 1024 * 1024, batch_max_open_per_key=5, **store)
    gateway = client._transport.app.state.gateway
    upload = await client.post("/v1/files", files={"file": ("big.pdf", PDF)}, data={"purpose": "user_data"})
    assert upload.status_code == 200, upload.text
    file_id = upload.json()["id"]
    calls = counted(monkeypatch, gateway.files)
    gate = asyncio.Event()
    seen: list = []

    async def stream(turn):  # each turn shows what its request reached Claude with, then waits
        seen.append(turn.prompt.content)
        await gate.wait()
        if False:
            yield None

    engine.stream = stream
    checks = 0
    real_check = doors.check

    def check(*args, **kwargs):
        nonlocal checks
        checks += 1
        return real_check(*args, **kwargs)

    monkeypatch.setattr(doors, "check", check)
    between: list[int] = []  # requests checked between two turns of the event loop's other tasks

    async def ticker():
        last = 0
        while True:
            await asyncio.sleep(0)
            between.append(checks - last)
            last = checks

    ticking = asyncio.create_task(ticker())
    body = {"requests": [{"custom_id": f"r{i}", "params": about(file_id)} for i in range(references)]}
    try:
        made = await client.post("/v1/messages/batches", json=body)
        assert made.status_code == 200, made.text
        assert calls == {"get": 1, "content": 0}  # one lookup for all the references, no read
        ticking.cancel()
        assert checks == references and max(between) <= 500  # the gateway went on serving
        for _ in range(400):  # the first request runs: it reads the file, and Claude gets it whole
            if seen:
                break
            await asyncio.sleep(0.05)
        document = seen[0][0]
        assert document["source"] == {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(PDF).decode(),
        }
    finally:
        await client.post(f"/v1/messages/batches/{made.json()['id']}/cancel")
        gate.set()
        await gateway.batches.stop()


async def test_a_batch_names_at_most_so_many_different_files(monkeypatch):
    monkeypatch.setattr("app.files.resolve.MAX_FILES", 2)
    client, _ = make_client()
    ids = []
    for name in ("a", "b", "c"):
        upload = await client.post("/v1/files", files={"file": (f"{name}.txt", b"x")}, data={"purpose": "user_data"})
        ids.append(upload.json()["id"])
    two = {"requests": [{"custom_id": f"r{i}", "params": about(ids[i % 2])} for i in range(10)]}
    assert (await client.post("/v1/messages/batches", json=two)).status_code == 200
    three = {"requests": [{"custom_id": f"r{i}", "params": about(ids[i])} for i in range(3)]}
    refused = await client.post("/v1/messages/batches", json=three)
    assert refused.status_code == 400 and refused.json()["type"] == "error"
    assert (
        "requests[2].params" in refused.json()["error"]["message"] and "at most 2" in refused.json()["error"]["message"]
    )
    await client._transport.app.state.gateway.batches.stop()
