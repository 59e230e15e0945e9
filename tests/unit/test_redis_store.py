"""What only the Redis store does (its shared contract with SQLite: test_store_contract.py): its
keys live under the operator's prefix, stored responses carry a Redis expiry, and the kept
failures are bounded."""

from __future__ import annotations

import time

import pytest

from app.core.redis import RedisLink
from app.store import KeyRecord, RedisStore, UsageEntry, redis_ledger
from tests.unit.test_store_contract import entry, stored


@pytest.fixture
async def shared(redis_url):
    made = []

    def connect(prefix: str = "gw-a:") -> RedisLink:
        made.append(RedisLink.connect(redis_url, prefix))
        return made[-1]

    yield connect
    for one in made:
        await one.close()


async def test_every_key_is_under_the_prefix_and_another_prefix_sees_nothing(shared):
    mine, theirs = shared("gw-a:"), shared("gw-b:")
    store = RedisStore(mine, response_ttl=60)
    await store.add_key(KeyRecord("gk_1", "team", "d" * 64, {}, 1.0))
    await store.record(entry(time.time(), status="error"))
    await store.put_response(stored("resp_1"))
    names = [name.decode() for name in await mine.client.keys("*")]
    assert names and all(name.startswith("gw-a:") for name in names)

    other = RedisStore(theirs)
    assert await other.find_key("d" * 64) is None and await other.list_keys() == []
    assert await other.failures(5) == [] and await other.usage(0, 2 * time.time()) == []
    assert await other.get_response("resp_1") is None


async def test_a_stored_response_and_its_session_index_expire_with_the_ttl(shared):
    client = shared().client
    store = RedisStore(shared(), response_ttl=60)
    await store.put_response(stored("resp_1", session="s1"))
    for name in ("gw-a:resp:resp_1", "gw-a:resp-session:s1"):
        assert 0 < await client.ttl(name) <= 61  # ceil(ttl) + 1 s, less what has passed
    assert await RedisStore(shared()).get_response("resp_1") is not None
    # Without a ttl (tests, tools) nothing expires by itself.
    await RedisStore(shared()).put_response(stored("resp_2", session=None))
    assert await client.ttl("gw-a:resp:resp_2") == -1


async def test_only_the_latest_failures_are_kept(shared, monkeypatch):
    monkeypatch.setattr(redis_ledger, "FAILURES_KEPT", 3)
    store = RedisStore(shared())
    now = time.time()
    for ago in range(5, 0, -1):
        await store.record(entry(now - ago, status="error"))
    assert await shared().client.zcard("gw-a:ledger:failures") == 3
    assert [f.at for f in await store.failures(10)] == [now - 1, now - 2, now - 3]


async def test_spent_counts_from_the_hour_of_a_since_within_an_hour(shared):
    """The documented granularity: a `since` inside an hour counts that whole hour."""
    store = RedisStore(shared())
    hour = time.time() // 3600 * 3600
    await store.record(UsageEntry(at=hour + 1, key_id=None, tenant="t", session_id=None, model="m", door="chat",
                                  input_tokens=5))  # fmt: skip
    assert (await store.spent("t", hour)).tokens == 5
    assert (await store.spent("t", hour + 1800)).tokens == 5
    assert (await store.spent("t", hour + 3600)).tokens == 0
