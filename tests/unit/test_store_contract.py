"""The Store contract, held by both stores: the embedded SQLite one and the shared Redis one (on a
real redis-server). Keys, the usage ledger and stored responses mean the same on either, so that a
gateway behaves the same with GATEWAY_REDIS_URL set or not."""

from __future__ import annotations

import calendar
import time

import pytest

from app.store import KeyRecord, ResponseRecord, UsageEntry
from app.tenancy.limits import period

DAY = 86400
JAN_1 = float(calendar.timegm((2026, 1, 1, 0, 0, 0)))


def key(key_id: str, digest: str, created: float = 1.0, **fields) -> KeyRecord:
    return KeyRecord(key_id, f"name {key_id}", digest, {"rpm": 3, "models": []}, created, **fields)


def entry(at: float, tenant: str = "t1", **fields) -> UsageEntry:
    values = {"key_id": "gk_1", "session_id": None, "model": "sonnet", "door": "chat", **fields}
    return UsageEntry(at=at, tenant=tenant, **values)


# --- keys -----------------------------------------------------------------------------------
async def test_a_key_is_found_by_digest_and_id_and_listed_by_creation(store):
    await store.add_key(key("gk_b", "b" * 64, created=20.0, credential="token"))
    await store.add_key(key("gk_a", "a" * 64, created=10.0))
    found = await store.find_key("b" * 64)
    assert found == key("gk_b", "b" * 64, created=20.0, credential="token")
    assert await store.get_key("gk_a") == key("gk_a", "a" * 64, created=10.0)
    assert [k.id for k in await store.list_keys()] == ["gk_a", "gk_b"]
    assert await store.find_key("c" * 64) is None and await store.get_key("gk_c") is None


async def test_a_revoked_key_is_gone_from_find_get_and_list_for_good(store):
    await store.add_key(key("gk_1", "1" * 64))
    await store.add_key(key("gk_2", "2" * 64, created=2.0))
    assert await store.revoke_key("gk_1", 5.0)
    assert await store.find_key("1" * 64) is None and await store.get_key("gk_1") is None
    assert [k.id for k in await store.list_keys()] == ["gk_2"]
    assert not await store.revoke_key("gk_1", 6.0) and not await store.revoke_key("gk_unknown", 6.0)
    # An update read before the revocation does not bring the key back.
    await store.update_key(key("gk_1", "1" * 64))
    assert await store.find_key("1" * 64) is None and await store.get_key("gk_1") is None


async def test_a_digest_belongs_to_one_key_even_once_revoked(store):
    await store.add_key(key("gk_1", "1" * 64))
    with pytest.raises(Exception):  # noqa: B017 (SQLite's IntegrityError, Redis's ValueError)
        await store.add_key(key("gk_2", "1" * 64))
    await store.revoke_key("gk_1", 2.0)
    with pytest.raises(Exception):  # noqa: B017
        await store.add_key(key("gk_3", "1" * 64))
    assert await store.get_key("gk_2") is None and await store.get_key("gk_3") is None


async def test_an_update_changes_name_policy_and_credential(store):
    await store.add_key(key("gk_1", "1" * 64, credential="old"))
    changed = KeyRecord("gk_1", "renamed", "1" * 64, {"rpm": None, "models": ["sonnet"]}, 1.0, credential=None)
    await store.update_key(changed)
    assert await store.find_key("1" * 64) == changed
    assert await store.list_keys() == [changed]


# --- the ledger -----------------------------------------------------------------------------
async def test_spent_since_a_day_start_counts_only_that_days_turns_of_that_tenant(store):
    today, _ = period("day", time.time())
    costs = {"today": 0.25, "yesterday": 1.0, "other tenant": 2.0}
    await store.record(entry(today + 1, cost_usd=costs["today"], input_tokens=10, output_tokens=5))
    await store.record(
        entry(today + 2, cost_usd=0.125, cache_read_input_tokens=100, cache_creation_input_tokens=3, status="error")
    )
    await store.record(entry(today - 1, cost_usd=costs["yesterday"], input_tokens=1000))
    await store.record(entry(today + 3, tenant="t2", cost_usd=costs["other tenant"], input_tokens=1000))
    spent = await store.spent("t1", today)
    assert spent.cost_usd == pytest.approx(0.375) and spent.tokens == 118
    assert isinstance(spent.cost_usd, float) and isinstance(spent.tokens, int)
    assert (await store.spent("t1", today - DAY)).tokens == 1118
    assert (await store.spent("nobody", today)).cost_usd == 0.0


async def test_spent_since_a_month_start_counts_the_whole_month(store):
    month, _ = period("month", time.time())
    await store.record(entry(month + 1, input_tokens=1, cost_usd=0.1))
    await store.record(entry(time.time(), input_tokens=2, cost_usd=0.2))
    await store.record(entry(month - 1, input_tokens=4, cost_usd=0.4))  # last month
    spent = await store.spent("t1", month)
    assert spent.tokens == 3 and spent.cost_usd == pytest.approx(0.3)


async def test_usage_is_summed_by_tenant_key_day_and_model(store):
    await store.record(entry(JAN_1 + 10, input_tokens=1, output_tokens=2, cost_usd=0.5))
    await store.record(entry(JAN_1 + 20, input_tokens=10, cache_read_input_tokens=7, cost_usd=0.25))
    await store.record(entry(JAN_1 + 30, model="opus", output_tokens=4))
    await store.record(entry(JAN_1 + DAY + 5, cache_creation_input_tokens=9))
    await store.record(entry(JAN_1 + 40, tenant="anon", key_id=None, input_tokens=3))
    await store.record(entry(JAN_1 + 2 * DAY + 1, input_tokens=100))  # past the period

    totals = await store.usage(JAN_1, JAN_1 + 2 * DAY)
    rows = [(t.day, t.tenant, t.key_id, t.model, t.requests) for t in totals]
    assert rows == [
        ("2026-01-01", "anon", None, "sonnet", 1),
        ("2026-01-01", "t1", "gk_1", "opus", 1),
        ("2026-01-01", "t1", "gk_1", "sonnet", 2),
        ("2026-01-02", "t1", "gk_1", "sonnet", 1),
    ]
    sonnet = totals[2]
    sums = (sonnet.input_tokens, sonnet.output_tokens, sonnet.cache_read_input_tokens)
    assert sums == (11, 2, 7) and sonnet.cache_creation_input_tokens == 0
    assert sonnet.cost_usd == pytest.approx(0.75) and isinstance(sonnet.cost_usd, float)
    assert isinstance(totals[0].cost_usd, float) and totals[0].cost_usd == 0.0

    assert [t.tenant for t in await store.usage(JAN_1, JAN_1 + 2 * DAY, tenant="anon")] == ["anon"]
    assert {t.key_id for t in await store.usage(JAN_1, JAN_1 + 2 * DAY, key_id="gk_1")} == {"gk_1"}
    assert [t.day for t in await store.usage(JAN_1 + DAY, JAN_1 + 2 * DAY)] == ["2026-01-02"]
    assert await store.usage(JAN_1 - 10 * DAY, JAN_1) == []


async def test_failures_are_the_latest_errors_newest_first(store):
    now = time.time()
    await store.record(entry(now - 30, status="error", error="rate_limited", duration_ms=7))
    await store.record(entry(now - 10, status="error", error="claude_process_failed", session_id="s1"))
    await store.record(entry(now - 20, status="cancelled"))
    await store.record(entry(now - 5, status="ok"))
    await store.record(entry(now - 1, status="error", error="claude_process_failed", session_id="s1"))
    failed = await store.failures(10)
    assert [f.at for f in failed] == [now - 1, now - 10, now - 30]  # two equal failures stay two
    assert failed[2] == entry(now - 30, status="error", error="rate_limited", duration_ms=7)
    assert [f.at for f in await store.failures(2)] == [now - 1, now - 10]


# --- stored responses -----------------------------------------------------------------------
def stored(response_id: str, session: str | None = "s1", stored_at: float = 100.0, **fields) -> ResponseRecord:
    values = {
        "tenant": "t1",
        "previous_id": None,
        "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi é"}]}],
        "response": {"id": response_id, "output": [], "metadata": {}, "usage": None},
        **fields,
    }
    return ResponseRecord(response_id, stored_at=stored_at, session=session, **values)


async def test_a_stored_response_comes_back_as_it_was_put_and_can_be_replaced_or_deleted(store):
    first = stored("resp_1")
    bare = stored("resp_2", session=None, previous_id="resp_1", system=None, messages=[])
    await store.put_response(first)
    await store.put_response(bare)
    assert await store.get_response("resp_1") == first and await store.get_response("resp_2") == bare
    replaced = stored("resp_1", session="s2", response={"id": "resp_1", "status": "completed"})
    await store.put_response(replaced)
    assert await store.get_response("resp_1") == replaced
    await store.forget_session("s1")  # no longer its session
    assert (await store.get_response("resp_1")).messages is not None
    await store.delete_response("resp_1")
    assert await store.get_response("resp_1") is None and await store.get_response("resp_2") == bare
    await store.delete_response("resp_unknown")
    assert await store.get_response("resp_unknown") is None


async def test_a_forgotten_session_keeps_its_responses_without_their_messages(store):
    for response_id, session in (("resp_1", "s1"), ("resp_2", "s1"), ("resp_3", "s2")):
        await store.put_response(stored(response_id, session=session))
    await store.forget_session("s1")
    assert [(await store.get_response(r)).messages for r in ("resp_1", "resp_2")] == [None, None]
    assert (await store.get_response("resp_1")).response == {
        "id": "resp_1",
        "output": [],
        "metadata": {},
        "usage": None,
    }
    assert (await store.get_response("resp_3")).messages == stored("resp_3").messages
    await store.forget_session("never-seen")


async def test_expire_responses_drops_those_stored_before(store):
    await store.put_response(stored("resp_old", stored_at=100.0))
    await store.put_response(stored("resp_edge", stored_at=200.0))
    await store.put_response(stored("resp_new", stored_at=300.0))
    await store.expire_responses(200.0)
    assert await store.get_response("resp_old") is None
    assert await store.get_response("resp_edge") is not None and await store.get_response("resp_new") is not None


async def test_ping_answers(store):
    await store.ping()


async def test_a_shared_secret_is_made_once_and_the_same_ever_after(store):
    first = await store.shared_secret("purpose-a")
    assert len(first) == 32
    assert await store.shared_secret("purpose-a") == first
    assert await store.shared_secret("purpose-b") != first


async def test_a_tenants_responses_are_deleted_all_others_kept(store):
    """More than one page (the Redis store walks its responses 500 at a time), tenants interleaved."""
    for n in range(1203):
        record = stored(f"resp_{n}", session=f"s{n % 3}")
        record.tenant = "gone" if n % 3 else "kept"
        await store.put_response(record)
    await store.delete_tenant_responses("gone")
    left = [n for n in range(1203) if await store.get_response(f"resp_{n}") is not None]
    assert left == list(range(0, 1203, 3))
