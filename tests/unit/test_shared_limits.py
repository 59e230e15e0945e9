"""A key's limits over replicas: two Limits, each with its own Redis client (two gateways), on one
real redis-server. What one counts, the other sees: the rpm window and the max_concurrent slots are
the key's, not a replica's. Without Redis, LocalCounters keeps the same answers in one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from app.core.errors import GatewayError
from app.core.redis import RedisLink
from app.store.null import NullStore
from app.tenancy.auth import Tenant
from app.tenancy.counters import LocalCounters
from app.tenancy.limits import Limits
from app.tenancy.policy import Policy
from app.tenancy.redis_counters import RedisCounters
from tests.support import free_port

PREFIX = "test-limits:"


@pytest.fixture
async def replicas(redis_url) -> AsyncIterator[Callable[..., Limits]]:
    """Makes the Limits of one more replica: its own client on the test's Redis."""
    clients: list[RedisLink] = []

    def replica(busy_wait: float = 0.0, **counters: float) -> Limits:
        shared = RedisLink.connect(redis_url, PREFIX)
        clients.append(shared)
        return Limits(NullStore(), busy_wait, RedisCounters(shared, **counters))

    yield replica
    for shared in clients:
        await shared.close()


def key(**policy: int) -> Tenant:
    return Tenant("key-abc", "abc", "a key", Policy(**policy))  # type: ignore[arg-type]


async def refused(call: Awaitable[object]) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await call
    return caught.value


# --- requests per minute --------------------------------------------------------------------------


async def test_the_limit_is_reached_at_exactly_rpm_requests_over_both_replicas(replicas):
    one, two = replicas(), replicas()
    tenant = key(rpm=5)
    answers = await asyncio.gather(*(limits.count_request(tenant) for limits in [one, two] * 8), return_exceptions=True)
    admitted = [a for a in answers if isinstance(a, dict)]
    errors = [a for a in answers if isinstance(a, GatewayError)]
    assert len(admitted) == 5 and len(errors) == 11, answers
    assert sorted(a["x-ratelimit-remaining-requests"] for a in admitted) == ["0", "1", "2", "3", "4"]
    for error in errors:
        assert error.status == 429 and error.code == "rate_limit_exceeded"
        assert 1 <= int(error.headers["Retry-After"]) <= 60
        assert error.headers["x-ratelimit-limit-requests"] == "5"
        assert error.headers["x-ratelimit-remaining-requests"] == "0"
    # Another key has its own window.
    assert (await one.count_request(Tenant("key-other", policy=Policy(rpm=1))))["x-ratelimit-remaining-requests"] == "0"


async def test_each_replica_tells_the_keys_whole_window_in_its_headers(replicas):
    one, two = replicas(), replicas()
    tenant = key(rpm=3)
    assert (await one.rate_headers(tenant))["x-ratelimit-remaining-requests"] == "3"
    assert (await one.rate_headers(tenant))["x-ratelimit-reset-requests"] == "0s"
    await one.count_request(tenant)
    seen = await two.rate_headers(tenant)  # looking does not count
    assert seen["x-ratelimit-remaining-requests"] == "2" and seen["x-ratelimit-reset-requests"].endswith("s")
    assert (await two.count_request(tenant))["x-ratelimit-remaining-requests"] == "1"
    assert (await one.count_request(tenant))["x-ratelimit-remaining-requests"] == "0"
    error = await refused(two.count_request(tenant))
    assert error.code == "rate_limit_exceeded" and "3 requests per minute" in error.message
    assert 1 <= int(error.headers["Retry-After"]) <= 60


async def test_the_window_slides_and_its_redis_key_expires_with_it(replicas, redis_url):
    one, two = replicas(window=2.0), replicas(window=2.0)
    tenant = key(rpm=2)
    await one.count_request(tenant)
    await two.count_request(tenant)
    assert (await refused(one.count_request(tenant))).status == 429
    window = RedisLink.connect(redis_url, PREFIX)
    try:
        assert 0 < await window.client.pttl(window.key("rpm", tenant.id)) <= 2000  # gone with the window
    finally:
        await window.close()
    for _ in range(600):  # the two requests leave the window: room again, on either replica
        try:
            headers = await two.count_request(tenant)
            break
        except GatewayError:
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the window never slid")
    assert headers["x-ratelimit-remaining-requests"] == "1"


@pytest.mark.parametrize("counters", ["local", "redis"])
async def test_one_replica_answers_the_same_whichever_counters_it_has(counters, replicas):
    limits = Limits(NullStore(), 0.0, LocalCounters()) if counters == "local" else replicas()
    tenant = key(rpm=2)
    assert await limits.count_request(Tenant("free")) == {}
    assert await limits.rate_headers(Tenant("free")) == {}
    first = await limits.count_request(tenant)
    assert first["x-ratelimit-limit-requests"] == "2" and first["x-ratelimit-remaining-requests"] == "1"
    assert first["x-ratelimit-reset-requests"] in {"59s", "1m0s"}
    await limits.count_request(tenant)
    error = await refused(limits.count_request(tenant))
    assert error.headers["x-ratelimit-remaining-requests"] == "0" and 1 <= int(error.headers["Retry-After"]) <= 60


# --- turns at once ------------------------------------------------------------------------------


async def test_max_concurrent_counts_the_keys_turns_on_every_replica_and_frees_them_at_their_end(replicas):
    one, two = replicas(), replicas()
    tenant = key(max_concurrent=2)
    async with one.running(tenant), two.running(tenant):
        for limits in (one, two):
            with pytest.raises(GatewayError) as caught:
                async with limits.running(tenant):
                    pass
            assert caught.value.status == 429 and caught.value.code == "too_many_concurrent_requests"
        async with one.running(Tenant("key-other", policy=Policy(max_concurrent=1))):
            pass  # another key's slots are its own
    with pytest.raises(RuntimeError):
        async with two.running(tenant):
            raise RuntimeError("the turn failed")  # a failed turn gives its slot back too
    async with one.running(tenant), two.running(tenant):
        pass


async def test_a_waiting_turn_gets_the_slot_another_replica_gives_back(replicas):
    one, waiting = replicas(), replicas(busy_wait=30)
    tenant = key(max_concurrent=1)
    ended, started = asyncio.Event(), asyncio.Event()

    async def turn() -> None:
        async with one.running(tenant):
            started.set()
            await ended.wait()

    first = asyncio.create_task(turn())
    await started.wait()

    async def second() -> str:
        async with waiting.running(tenant):
            return "ran"

    queued = asyncio.create_task(second())
    await asyncio.sleep(0.2)  # it polls meanwhile
    assert not queued.done()
    ended.set()
    assert await queued == "ran"
    await first


async def test_a_running_turn_keeps_its_slot_past_the_lease_by_renewing_it(replicas):
    long, other = replicas(lease=1.0, renew_every=0.1), replicas()
    tenant = key(max_concurrent=1)
    async with long.running(tenant):
        await asyncio.sleep(2.5)  # more than twice the lease
        assert (await refused(_enter(other, tenant))).code == "too_many_concurrent_requests"
    await _enter(other, tenant)


async def test_a_crashed_replicas_slot_lapses_after_its_lease(replicas, redis_url):
    # The crashed replica took a slot, exactly as a turn does, and died: nothing renews or releases it.
    crashed = RedisLink.connect(redis_url, PREFIX)
    try:
        assert await RedisCounters(crashed, lease=1.5).hold(crashed.key("running", "key-abc"), 1, "dead-lease")
    finally:
        await crashed.close()
    tenant = key(max_concurrent=1)
    assert (await refused(_enter(replicas(), tenant))).code == "too_many_concurrent_requests"
    await _enter(replicas(busy_wait=30), tenant)  # free once the lease lapsed


async def test_a_turn_cancelled_while_it_waits_leaves_no_slot_taken(replicas):
    one, waiting, after = replicas(), replicas(busy_wait=30), replicas()
    tenant = key(max_concurrent=1)
    async with one.running(tenant):
        queued = asyncio.create_task(_enter(waiting, tenant))
        await asyncio.sleep(0.2)
        queued.cancel()
        await asyncio.wait({queued})
    await _enter(after, tenant)


async def test_an_unreachable_redis_is_503_not_a_crash():
    shared = RedisLink.connect(f"redis://127.0.0.1:{free_port()}/0", PREFIX)
    limits = Limits(NullStore(), 0.0, RedisCounters(shared))
    try:
        for call in (limits.count_request(key(rpm=1)), _enter(limits, key(max_concurrent=1))):
            error = await refused(call)
            assert error.status == 503 and error.code == "store_unavailable", error
    finally:
        await shared.close()


async def _enter(limits: Limits, tenant: Tenant) -> None:
    async with limits.running(tenant):
        pass
