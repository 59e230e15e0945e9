"""Batches share the runner fairly across keys, on one machine (SQLite) and with replicas (a real
Redis): a key's 15-request batch no longer holds up another key's 1-request batch sent after it.
A scripted engine with slow turns; the order is what the runner started, not timing."""

from __future__ import annotations

import asyncio

import pytest

from app.core.events import Finish, TextDelta
from app.core.messages import Message
from tests.support import make_client

from .test_message_batches import batch_of, bearer, create, until

KEYS = "key-a,key-b"


@pytest.fixture(params=["sqlite", "redis"])
def settings(request) -> dict:
    if request.param == "redis":
        return {"api_keys": KEYS, "redis_url": request.getfixturevalue("redis_url")}
    return {"api_keys": KEYS}


def slow(engine, seconds: float = 0.05) -> list[str]:
    """Make each turn take `seconds`; the list of prompts in the order their turns began."""
    began: list[str] = []

    async def stream(turn):
        text = next((b["text"] for b in turn.prompt.content if b.get("type") == "text"), "")
        began.append(text)
        await asyncio.sleep(seconds)
        yield TextDelta(text)
        yield Finish("stop", message=Message("assistant", [{"type": "text", "text": text}]))

    engine.stream = stream
    return began


async def test_a_small_batch_of_another_key_is_not_held_up_by_a_big_one(settings):
    client, engine = make_client(**settings)
    began = slow(engine)
    try:
        big = await create(client, batch_of(*[f"a{i}" for i in range(15)]), bearer("key-a"))
        small = await create(client, batch_of("b0"), bearer("key-b"))
        ended = await until(client, small["id"], headers=bearer("key-b"))
        assert ended["request_counts"]["succeeded"] == 1
        await until(client, big["id"], headers=bearer("key-a"))
        store = client._transport.app.state.gateway.batches.store
        a, b = await store.get(big["id"]), await store.get(small["id"])
        assert b.ended_at < a.ended_at  # B's ended before A's
        assert began.index("b0") <= 2, began  # B took the next free slot, not the 16th
        assert [t for t in began if t != "b0"] == [f"a{i}" for i in range(15)]  # A's in order
    finally:
        await client._transport.app.state.gateway.batches.stop()
