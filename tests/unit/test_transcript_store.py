"""RedisSessionStore (app/engine/transcripts/redis_store.py) on a real redis-server: the Agent SDK's own
conformance suite for SessionStore adapters, and what the gateway adds (expiry, duplicates)."""

from __future__ import annotations

import itertools

import pytest
from claude_agent_sdk.testing import run_session_store_conformance

from app.core.redis import RedisLink
from app.engine.transcripts.redis_store import RedisSessionStore

TTL = 3600.0
KEY = {"project_key": "conv-1", "session_id": "11111111-2222-3333-4444-555555555555"}


@pytest.fixture
async def shared(redis_url):
    shared = RedisLink.connect(redis_url, "test-transcripts:")
    yield shared
    await shared.close()


async def test_the_sdk_conformance_suite_passes(shared):
    fresh = itertools.count()

    def make_store() -> RedisSessionStore:  # each contract on keys of its own
        return RedisSessionStore(RedisLink(shared.client, f"conformance-{next(fresh)}:"), TTL)

    await run_session_store_conformance(make_store)


async def test_every_key_of_a_transcript_expires_with_the_session_ttl(shared):
    store = RedisSessionStore(shared, TTL)
    await store.append(KEY, [{"type": "user", "uuid": "u1"}])
    await store.append({**KEY, "subpath": "subagents/agent-1"}, [{"type": "user", "uuid": "s1"}])
    await store.mark(KEY["project_key"], KEY["session_id"], "hash")  # the head
    keys = await shared.client.keys("test-transcripts:*")
    assert len(keys) == 7  # main, sub, their uuids, subpaths, index, head
    for key in keys:
        assert 0 < await shared.client.pttl(key) <= TTL * 1000, key


async def test_an_entry_sent_twice_is_kept_once_and_entries_without_uuid_always(shared):
    store = RedisSessionStore(shared, TTL)
    await store.append(KEY, [{"type": "user", "uuid": "a"}, {"type": "queue-operation"}])
    await store.append(
        KEY, [{"type": "user", "uuid": "a"}, {"type": "assistant", "uuid": "b"}, {"type": "queue-operation"}]
    )
    assert await store.load(KEY) == [
        {"type": "user", "uuid": "a"},
        {"type": "queue-operation"},
        {"type": "assistant", "uuid": "b"},
        {"type": "queue-operation"},
    ]


async def test_colons_in_keys_never_make_two_sessions_one(shared):
    store = RedisSessionStore(shared, TTL)
    await store.append({"project_key": "a:b", "session_id": "c"}, [{"type": "x", "n": 1}])
    await store.append({"project_key": "a", "session_id": "b:c"}, [{"type": "x", "n": 2}])
    assert await store.load({"project_key": "a:b", "session_id": "c"}) == [{"type": "x", "n": 1}]
    assert await store.load({"project_key": "a", "session_id": "b:c"}) == [{"type": "x", "n": 2}]


async def test_the_marked_session_comes_back_as_it_was_when_marked(shared):
    store = RedisSessionStore(shared, TTL)
    other = {**KEY, "session_id": "66666666-2222-3333-4444-555555555555"}
    await store.append(other, [{"type": "user", "uuid": "o1"}])
    await store.mark("conv-1", other["session_id"], "h0")
    clean = [{"type": "user", "uuid": "u1"}, {"type": "assistant", "uuid": "a1"}]
    await store.append(KEY, clean)
    await store.mark("conv-1", KEY["session_id"], "h1")
    await store.append(KEY, [{"type": "user", "uuid": "u2"}])  # a turn that then failed
    assert await store.marked("conv-1", "h0") is None  # the last mark only
    assert await store.marked("conv-2", "h1") is None
    assert await store.marked("conv-1", "h1") == (KEY["session_id"], clean)
    # what the failed turn left is gone, so that the next process's entries follow the clean ones
    await store.append(KEY, [{"type": "user", "uuid": "u3"}])
    assert await store.load(KEY) == [*clean, {"type": "user", "uuid": "u3"}]


async def test_a_mark_can_be_taken_back(shared):
    store = RedisSessionStore(shared, TTL)
    await store.append(KEY, [{"type": "user", "uuid": "u1"}])
    await store.mark("conv-1", KEY["session_id"], "h1")
    await store.unmark("conv-1")
    assert await store.marked("conv-1", "h1") is None
