"""Where a key's limits count: its requests in the last minute and its turns running now.

Limits (limits.py) decides and words the answers; a `Counters` only counts, so the same rules hold
whether the counts live in this process (`LocalCounters`, one gateway) or in Redis for every
replica at once (app/tenancy/redis_counters.py): a limit of 100 per minute over 4 replicas is 100, not 400.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW = 60.0  # seconds of the rpm window


@dataclass(frozen=True)
class Window:
    """A key's requests in the last minute, as one check left them."""

    used: int  # requests in the window (the one just counted included)
    reset: float  # seconds until the oldest of them leaves the window (0: none in it)
    admitted: bool = True  # counted; False: the window was full and the request was not counted


class Slot(Protocol):
    """One of a key's max_concurrent turn slots, held until released."""

    async def release(self) -> None: ...


class Counters(Protocol):
    async def requests(self, key: str, limit: int, count: bool) -> Window:
        """The key's window; with `count`, one more request in it if it is under `limit`."""
        ...

    async def take(self, key: str, limit: int, wait: float) -> Slot | None:
        """One of the key's `limit` turn slots, waiting up to `wait` s for one; None: none came free."""
        ...


class LocalCounters:
    """The counts of this process: a deque of request times per key (its own monotonic clock) and a
    semaphore per key. Nothing here awaits anything but a busy semaphore, so a key's checks cost
    the request no trip through the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._running: dict[str, tuple[int, asyncio.Semaphore]] = {}

    async def requests(self, key: str, limit: int, count: bool) -> Window:
        times = self._requests.setdefault(key, deque())
        now = self._clock()
        while times and now - times[0] >= WINDOW:
            times.popleft()
        admitted = len(times) < limit
        if count and admitted:
            times.append(now)
        return Window(len(times), WINDOW - (now - times[0]) if times else 0.0, admitted)

    async def take(self, key: str, limit: int, wait: float) -> Slot | None:
        known = self._running.get(key)
        slots = known[1] if known and known[0] == limit else asyncio.Semaphore(limit)
        self._running[key] = (limit, slots)
        if not await _acquire_within(slots, wait):
            return None
        return _LocalSlot(slots)


@dataclass
class _LocalSlot:
    slots: asyncio.Semaphore

    async def release(self) -> None:
        self.slots.release()


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
