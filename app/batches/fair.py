"""Which key's batch request starts next, so that one key's big batch does not hold up every other
key's: round robin across the keys (tenants) with pending requests, the one with the fewest
requests running and, among those, the one served longest ago first; within a key, its oldest batch
first and that batch's requests in order.

The runner (runner.py) asks `Turns.order` for the keys in the order they should be served, each
time a process slot is free, and tells `served` which one it started.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from .model import Batch


class Turns:
    def __init__(self) -> None:
        self._last: dict[str, int] = {}  # tenant -> when it was last served (a counter)
        self._clock = itertools.count(1)

    def queues(self, ready: Iterable[Batch]) -> dict[str, list[Batch]]:
        """The batches that may start a request, by key, each key's oldest first (`ready` is)."""
        by_key: dict[str, list[Batch]] = {}
        for batch in ready:
            by_key.setdefault(batch.tenant, []).append(batch)
        return by_key

    def order(self, keys: Iterable[str], running: dict[str, int]) -> list[str]:
        """`keys` in the order they are served: fewest running first, then least recently served
        (a key never served yet before any other)."""
        return sorted(keys, key=lambda key: (running.get(key, 0), self._last.get(key, 0)))

    def served(self, key: str) -> None:
        self._last[key] = next(self._clock)

    def forget(self, active: set[str]) -> None:
        """Drop the keys with no unfinished batch that were served before every key that has one:
        coming back, such a key is served first either way (0 sorts before every active key's
        time, as its own time did), so the record stays as small as the work."""
        oldest = min((self._last.get(key, 0) for key in active), default=None)
        for key in [k for k, at in self._last.items() if k not in active and (oldest is None or at < oldest)]:
            del self._last[key]
