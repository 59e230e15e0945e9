"""RedisSessionStore (app/shared/transcripts.py) on a real redis-server: the Agent SDK's own
conformance suite for SessionStore adapters, and what the gateway adds (expiry, duplicates)."""

from __future__ import annotations

import itertools

import pytest
from claude_agent_sdk.testing import run_session_store_conformance

from app.shared import Shared
from app.shared.transcripts import RedisSessionStore

TTL = 3600.0
KEY = {"project_key": "conv-1", "session_id": "11111111-2222-3333-4444-555555555555"}


@pytest.fixture
async def shared(redis_url):
    shared = Shared.connect(redis_url, "test-transcripts:")
    yield shared
    await shared.close()


async def test_the_sdk_conformance_suite_passes(shared):
    fresh = itertools.count()

    def make_store() -> RedisSessionStore:  # each contract on keys of its own
        return RedisSessionStore(Shared(shared.client, f"conformance-{next(fresh)}:"), TTL)

    await run_session_store_conformance(make_store)


async def test_every_key_of_a_transcript_expires_with_the_session_ttl(shared):
    store = RedisSessionStore(shared, TTL)
    await store.append(KEY, [{"type": "user", "uuid": "u1"}])
    await store.append({**KEY, "subpath": "subagents/agent-1"}, [{"type": "user", "uuid": "s1"}])
    await store.mark(KEY["project_key"], KEY["session_id"], "hash")
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


async def test_the_head_names_the_last_marked_session(shared):
    store = RedisSessionStore(shared, TTL)
    assert await store.head("conv-1") is None
    await store.mark("conv-1", "s1", "h1")
    await store.mark("conv-1", "s2", "h2")
    assert await store.head("conv-1") == ("s2", "h2")
    assert await store.head("conv-2") is None
