"""Budget reservations in both stores (SQLite, and Redis on a real redis-server): a reservation is
held only if it fits beside what was spent and what running turns hold, atomically, so that
concurrent reservations never share one remainder; a turn's ledger entry settles its hold; a hold
no entry settles lapses (Redis) or is dropped at start-up (SQLite)."""

from __future__ import annotations

import asyncio
import time

from app.core.redis import RedisLink
from app.store import RedisStore, Reservation, Spent, open_store
from tests.unit.test_store_contract import entry


def reservation(*ids: str, cost: float = 1.0, tokens: int = 10, budget: float | None = 3.0, **extra) -> Reservation:
    values = {"token_budget": None, "lease": 60.0, **extra}
    return Reservation("t1", 0.0, ids, Spent(cost, tokens), budget, **values)


async def test_concurrent_reservations_take_the_budget_once(store):
    found = await asyncio.gather(*(store.reserve(reservation(f"h{i}")) for i in range(20)))
    assert sum(f.admitted for f in found) == 3  # $3 of $1 each, however they interleave
    refused = next(f for f in found if not f.admitted)
    assert refused.held.cost_usd == 3.0 and refused.holds == 3


async def test_an_entry_settles_its_hold_and_counts_what_it_really_cost(store):
    assert (await store.reserve(reservation("a", "b", "c"))).admitted  # n = 3 at once
    assert not (await store.reserve(reservation("d"))).admitted
    await store.record(entry(time.time(), cost_usd=0.25), ["a"])
    assert not (await store.reserve(reservation("d"))).admitted  # 0.25 + 2 + 1 > 3
    found = await store.reserve(reservation("d", cost=0.75))
    assert found.admitted and found.spent.cost_usd == 0.25 and found.held.cost_usd == 2.0
    await store.release("t1", ["b", "c", "d"])
    assert (await store.reserve(reservation("e", "f"))).admitted  # 0.25 + 2 <= 3


async def test_a_lone_turn_may_start_on_what_is_left_but_never_beside_another(store):
    small = reservation("a", cost=5.0, budget=1.0)  # more than the whole budget
    assert (await store.reserve(small)).admitted
    assert not (await store.reserve(reservation("b", cost=5.0, budget=1.0))).admitted
    await store.record(entry(time.time(), cost_usd=2.0), ["a"])  # it overshot: spent 2 of 1
    assert not (await store.reserve(reservation("c", cost=5.0, budget=1.0))).admitted
    assert not (await store.reserve(reservation("x", "y", cost=0.1, budget=None, token_budget=10, tokens=6))).admitted


async def test_token_budgets_hold_the_same_way(store):
    found = await asyncio.gather(
        *(store.reserve(reservation(f"h{i}", budget=None, token_budget=30, tokens=10)) for i in range(10))
    )
    assert sum(f.admitted for f in found) == 3


async def test_holds_of_a_dead_gateway_do_not_last(tmp_path, redis_url):
    sqlite = open_store(tmp_path / "data")
    assert (await sqlite.reserve(reservation("a", cost=3.0))).admitted
    assert not (await sqlite.reserve(reservation("b"))).admitted
    sqlite.close()
    restarted = open_store(tmp_path / "data")  # a restart: the old process's turns are over
    assert (await restarted.reserve(reservation("b"))).admitted
    restarted.close()

    shared = RedisLink.connect(redis_url, "test:")
    redis = RedisStore(shared)
    assert (await redis.reserve(reservation("a", cost=3.0, lease=0.3))).admitted
    assert not (await redis.reserve(reservation("b"))).admitted
    await asyncio.sleep(0.4)  # the replica that held it died: nobody settles it, its lease ends
    assert (await redis.reserve(reservation("b"))).admitted
    names = {n.decode() for n in await shared.client.keys("test:ledger:hold*")}
    assert len(names) == 2 and all([0 < await shared.client.pttl(n) <= 60_000 for n in names])
    await shared.close()


async def test_a_reservation_whose_caller_left_holds_nothing(store):
    """A client that hangs up while its turn's reservation is being written (SQLite's runs in a
    thread, Redis's is a round trip) must not leave the hold behind for its lease (minutes), which
    would keep the key's next lone turn out."""
    from app.core.turn import Turn
    from app.tenancy.auth import Tenant
    from app.tenancy.limits import Limits
    from app.tenancy.policy import Policy

    tenant = Tenant("t1", "k1", "key", Policy(token_budget=10))
    written = asyncio.Event()
    real = store.reserve

    async def slow(reservation):  # the real store, reached a moment later
        await asyncio.sleep(0.1)
        found = await real(reservation)
        written.set()
        return found

    store.reserve = slow
    limits = Limits(store, busy_wait=1.0)
    waiting = asyncio.create_task(limits.reserve(tenant, Turn(model="sonnet", messages=[])))
    await asyncio.sleep(0.02)
    waiting.cancel()
    await asyncio.wait_for(written.wait(), 5)
    await asyncio.sleep(0.2)  # the release that follows
    store.reserve = real
    # a lone turn may start on what is left only with nothing else of the key held
    assert (await store.reserve(reservation("next", budget=None, token_budget=10, tokens=10**6))).admitted
