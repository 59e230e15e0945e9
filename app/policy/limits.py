"""A key's limits, checked before its turn starts, in one place for every door.

- `rpm`: a sliding minute of request times per key; past it, 429 `rate_limit_exceeded` with
  Retry-After (when the oldest request leaves the minute). Every response to such a key carries
  OpenAI's x-ratelimit-*-requests headers (set on the request here, written by RateHeaders).
- budgets: what the ledger says the key spent since its period began (UTC day or month); past
  `budget_usd` or `token_budget`, 429 `insufficient_quota` saying what was spent and when it resets.
- `models`: a model outside the list is 404 `model_not_found`, as OpenAI answers for a model a
  key may not use.
- `max_concurrent`: turns of the key running at once; past it, a turn waits up to busy_wait for
  one to end, then 429. (`max_sessions` is the session registry's, `max_processes` the pool's.)

The counters live in this process: with several replicas, each counts its own share (the
scale-out issue moves them to the shared store).
"""

from __future__ import annotations

import asyncio
import calendar
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from ..auth import Tenant
from ..errors import GatewayError, model_not_found, rate_limited
from ..store import Store

WINDOW = 60.0  # seconds of the rpm window


class Limits:
    def __init__(self, store: Store, busy_wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.busy_wait = busy_wait
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._running: dict[str, tuple[int, asyncio.Semaphore]] = {}

    # --- requests per minute ------------------------------------------------------------------
    def rate_headers(self, tenant: Tenant) -> dict[str, str]:
        """The x-ratelimit-*-requests headers of a key with an rpm limit, as things stand."""
        rpm = tenant.policy.rpm if tenant.policy else None
        if rpm is None:
            return {}
        times = self._window(tenant.id)
        reset = WINDOW - (self._clock() - times[0]) if times else 0.0
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-remaining-requests": str(max(0, rpm - len(times))),
            "x-ratelimit-reset-requests": _duration(reset),
        }

    def count_request(self, tenant: Tenant) -> dict[str, str]:
        """Count one request against the key's rpm (429 past it); the headers after counting."""
        rpm = tenant.policy.rpm if tenant.policy else None
        if rpm is None:
            return {}
        times = self._window(tenant.id)
        if len(times) >= rpm:
            wait = max(1, math.ceil(WINDOW - (self._clock() - times[0])))
            error = rate_limited(
                f"Rate limit reached: this API key may make {rpm} requests per minute. Retry in {wait} s.", wait
            )
            error.headers.update(self.rate_headers(tenant))
            raise error
        times.append(self._clock())
        return self.rate_headers(tenant)

    def _window(self, tenant: str) -> deque[float]:
        times = self._requests.setdefault(tenant, deque())
        while times and self._clock() - times[0] >= WINDOW:
            times.popleft()
        return times

    # --- budgets ------------------------------------------------------------------------------
    async def check_budget(self, tenant: Tenant, now: float | None = None) -> None:
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
        resets = datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise rate_limited(
            f"This API key has spent {what} for this {policy.budget_period}; the budget resets at {resets}.",
            max(1, math.ceil(reset - (time.time() if now is None else now))),
            code="insufficient_quota",
        )

    # --- models and turns at once -------------------------------------------------------------
    def check_model(self, tenant: Tenant, model: str | None, resolve: Callable[[str], str | None]) -> None:
        """404 unless `model` (as resolved) is one the key's list names (as resolved too)."""
        allowed = tenant.policy.models if tenant.policy else None
        if allowed is None:
            return
        served = set(allowed)
        for name in allowed:
            try:
                served.add(resolve(name) or "default")
            except GatewayError:
                pass  # a name this gateway does not serve allows nothing more
        if (model or "default") not in served:
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
        known = self._running.get(tenant.id)
        slots = known[1] if known and known[0] == limit else asyncio.Semaphore(limit)
        self._running[tenant.id] = (limit, slots)
        if not await _acquire_within(slots, self.busy_wait):
            raise rate_limited(
                f"This API key already runs {limit} turns at once (its max_concurrent); retry when one has ended.",
                1,
                code="too_many_concurrent_requests",
            )
        try:
            yield
        finally:
            slots.release()


async def _acquire_within(slots: asyncio.Semaphore, timeout: float) -> bool:
    if not slots.locked():
        await slots.acquire()  # free: taken at once
        return True
    if timeout <= 0:
        return False
    try:
        await asyncio.wait_for(slots.acquire(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


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
