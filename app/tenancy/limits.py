"""A key's limits, checked before its turn starts, in one place for every door.

- `rpm`: a sliding minute of request times per key; past it, 429 `rate_limit_exceeded` with
  Retry-After (when the oldest request leaves the minute). Every response to such a key carries
  OpenAI's x-ratelimit-*-requests headers (set on the request here, written by RateHeaders).
- budgets: what the ledger says the key spent since its period began (UTC day or month); past
  `budget_usd` or `token_budget`, 429 `insufficient_quota` saying what was spent and when it resets.
  Every turn reserves its estimate when it starts (reserve, reservations.py) and its ledger entry
  settles it, so concurrent turns cannot all spend the same remainder.
- `models`: a model outside the list is 404 `model_not_found`, as OpenAI answers for a model a
  key may not use.
- `max_concurrent`: turns of the key running at once; past it, a turn waits up to busy_wait for
  one to end, then 429. (`max_sessions` is the session registry's, `max_processes` the pool's.)

The counting itself is a `Counters`' (counters.py): in this process for one gateway, in Redis when
replicas share one (app/tenancy/redis_counters.py), so that a key's limits hold across all of them.
"""

from __future__ import annotations

import asyncio
import calendar
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from redis.exceptions import RedisError

from ..core.errors import GatewayError, model_not_found, rate_limited, store_unavailable
from ..core.turn import Turn
from ..store import Reservation, Reserved, Store
from .auth import Tenant
from .counters import Counters, LocalCounters, Window
from .reservations import LEASE_MARGIN, estimate


class Limits:
    def __init__(
        self, store: Store, busy_wait: float, counters: Counters | None = None, turn_timeout: float = 600.0
    ) -> None:
        self.store = store
        self.busy_wait = busy_wait
        self.counters = counters or LocalCounters()
        self.hold_lease = turn_timeout + LEASE_MARGIN  # a hold no entry settled lapses then

    # --- requests per minute ------------------------------------------------------------------
    async def rate_headers(self, tenant: Tenant) -> dict[str, str]:
        """The x-ratelimit-*-requests headers of a key with an rpm limit, as things stand."""
        rpm = tenant.policy.rpm if tenant.policy else None
        if rpm is None:
            return {}
        return _headers(rpm, await self.counters.requests(tenant.id, rpm, count=False))

    async def count_request(self, tenant: Tenant) -> dict[str, str]:
        """Count one request against the key's rpm (429 past it); the headers after counting."""
        rpm = tenant.policy.rpm if tenant.policy else None
        if rpm is None:
            return {}
        window = await self.counters.requests(tenant.id, rpm, count=True)
        if not window.admitted:
            wait = max(1, math.ceil(window.reset))
            error = rate_limited(
                f"Rate limit reached: this API key may make {rpm} requests per minute. Retry in {wait} s.", wait
            )
            error.headers.update(_headers(rpm, window))
            raise error
        return _headers(rpm, window)

    # --- budgets ------------------------------------------------------------------------------
    async def check_budget(self, tenant: Tenant, now: float | None = None) -> None:
        """429 once the key's budget is spent: the early answer, before a request's body is read.
        What holds the budget against concurrent turns is each turn's reservation (reserve)."""
        policy = tenant.policy
        if policy is None or (policy.budget_usd is None and policy.token_budget is None):
            return
        start, reset = period(policy.budget_period, time.time() if now is None else now)
        spent = await self.store.spent(tenant.id, start)
        if policy.budget_usd is not None and spent.cost_usd >= policy.budget_usd:
            what = f"${spent.cost_usd:.4f} of its ${policy.budget_usd:g} budget"
        elif policy.token_budget is not None and spent.tokens >= policy.token_budget:
            what = f"{spent.tokens} of its {policy.token_budget} tokens"
        else:
            return
        raise _over_budget(f"This API key has spent {what}", policy.budget_period, reset, now)

    async def reserve(self, tenant: Tenant, turn: Turn, count: int = 1) -> list[str]:
        """Hold the estimate of `count` turns like `turn` against the key's budget (reservations.py),
        atomically over every turn of the key on every replica; the ids the turns' ledger entries
        settle. 429 insufficient_quota if they do not fit (store/base.py admits())."""
        policy = tenant.policy
        if policy is None or (policy.budget_usd is None and policy.token_budget is None):
            return []
        start, reset = period(policy.budget_period, time.time())
        ids = tuple(uuid.uuid4().hex for _ in range(count))
        each = estimate(turn)
        reservation = Reservation(tenant.id, start, ids, each, policy.budget_usd, policy.token_budget, self.hold_lease)
        store = self.store
        task = asyncio.ensure_future(store.reserve(reservation))
        try:  # a client that leaves meanwhile must not leave the hold behind (its lease is minutes)
            found = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: _release_if_held(store, tenant.id, ids, done))
            raise
        except RedisError as exc:
            raise store_unavailable() from exc
        if found.admitted:
            return list(ids)
        spent, held, turns = found.spent, found.held, f"{count} turns" if count > 1 else "this turn"
        if policy.budget_usd is not None:
            what = (
                f"spent ${spent.cost_usd:.4f} of its ${policy.budget_usd:g} budget, its running turns hold "
                f"${held.cost_usd:.4f}, and {turns} would need about ${count * each.cost_usd:.4f}"
            )
        else:
            what = (
                f"spent {spent.tokens} of its {policy.token_budget} tokens, its running turns hold "
                f"{held.tokens}, and {turns} would need about {count * each.tokens}"
            )
        raise _over_budget(f"This API key has {what}", policy.budget_period, reset, None)

    # --- models and turns at once -------------------------------------------------------------
    def check_model(self, tenant: Tenant, model: str | None, resolve: Callable[[str], str | None]) -> None:
        """404 unless `model` (as resolved) is one the key's list names (as resolved too)."""
        if not allows_model(tenant, model, resolve):
            error = model_not_found(model or "default")
            error.message = f"The model '{model or 'default'}' does not exist or this API key may not use it."
            raise error

    @asynccontextmanager
    async def running(self, tenant: Tenant) -> AsyncIterator[None]:
        """Hold one of the key's max_concurrent turn slots (waiting up to busy_wait for one)."""
        limit = tenant.policy.max_concurrent if tenant.policy else None
        if limit is None:
            yield
            return
        slot = await self.counters.take(tenant.id, limit, self.busy_wait)
        if slot is None:
            raise rate_limited(
                f"This API key already runs {limit} turns at once (its max_concurrent); retry when one has ended.",
                1,
                code="too_many_concurrent_requests",
            )
        try:
            yield
        finally:
            await slot.release()


def _over_budget(what: str, name: str, reset: float, now: float | None) -> GatewayError:
    resets = datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return rate_limited(
        f"{what} for this {name}; the budget resets at {resets}.",
        max(1, math.ceil(reset - (time.time() if now is None else now))),
        code="insufficient_quota",
    )


def allows_model(tenant: Tenant, model: str | None, resolve: Callable[[str], str | None]) -> bool:
    """Whether the key's `models` list (None: any) names `model`, an id as `resolve` gives it
    (None: the default), itself or by a name that resolves to it."""
    allowed = tenant.policy.models if tenant.policy else None
    if allowed is None:
        return True
    served = set(allowed)
    for name in allowed:
        try:
            served.add(resolve(name) or "default")
        except GatewayError:
            pass  # a name this gateway does not serve allows nothing more
    return (model or "default") in served


def _release_if_held(store: Store, tenant: str, ids: tuple[str, ...], done: asyncio.Future[Reserved]) -> None:
    """After a reservation its caller stopped waiting for: let its holds go, if it made them."""
    if not done.cancelled() and done.exception() is None and done.result().admitted:
        asyncio.ensure_future(store.release(tenant, list(ids)))


def _headers(rpm: int, window: Window) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(rpm),
        "x-ratelimit-remaining-requests": str(max(0, rpm - window.used)),
        "x-ratelimit-reset-requests": _duration(window.reset),
    }


def period(name: str, now: float) -> tuple[float, float]:
    """The UTC day or month `now` falls in: its start and the next one's."""
    day = datetime.fromtimestamp(now, timezone.utc)
    if name == "day":
        start = calendar.timegm((day.year, day.month, day.day, 0, 0, 0))
        return start, start + 86400
    start = calendar.timegm((day.year, day.month, 1, 0, 0, 0))
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return start, calendar.timegm((year, month, 1, 0, 0, 0))


def _duration(seconds: float) -> str:
    """OpenAI's form of a reset time: 1s, 6m0s, 250ms."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"
