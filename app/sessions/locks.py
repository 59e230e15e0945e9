"""Taking an asyncio lock within a time limit, without the pitfalls of `wait_for(lock.acquire())`."""

from __future__ import annotations

import asyncio
from typing import Any


async def acquire_within(lock: asyncio.Lock, timeout: float) -> bool:
    """Take `lock`, waiting up to `timeout` seconds. A free lock is taken at once, without giving
    other tasks a turn first (Python 3.10/3.11's `wait_for(lock.acquire(), 0)` never takes it,
    and with a timeout it yields before taking it). The lock is never left taken by a wait that
    timed out or was cancelled."""
    if not lock.locked():
        await lock.acquire()  # returns at once: no other task runs in between
        return True
    if timeout <= 0:
        return False
    acquire = asyncio.ensure_future(lock.acquire())
    try:
        await asyncio.wait({acquire}, timeout=timeout)
    finally:
        if not acquire.done():
            acquire.cancel()
            acquire.add_done_callback(lambda task: _release_if_taken(lock, task))
    return acquire.done() and not acquire.cancelled() and acquire.exception() is None


def _release_if_taken(lock: asyncio.Lock, acquire: asyncio.Future[Any]) -> None:
    """An acquire cancelled too late still took the lock: give it back."""
    if not acquire.cancelled() and acquire.exception() is None:
        lock.release()
