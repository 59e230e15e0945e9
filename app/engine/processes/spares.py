"""Spare Claude processes: connected ahead, with no conversation yet, per spawn-time option set
("key"; the model is not part of it, a spare takes its conversation's model at once).

How many: as many as the largest burst of new conversations for that key in the last
DEMAND_WINDOW seconds (new conversations less than BURST_GAP apart count as one burst), at least
the configured base and at most `most`: a chat UI that fires a title request with the user's
message, or an agent framework that starts five sub-conversations at once, finds them all warm
next time, and after the traffic stops the count falls back to the base. Only the most recently
used `warm_keys` option sets are kept warm, and spares never evict anything to start.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

from .options import Spawn
from .process import ClaudeProcess

Key = Hashable
DEMAND_WINDOW = 120.0  # seconds of past demand that size the spares
BURST_GAP = 2.0  # new conversations closer than this belong to one burst


class Spares:
    def __init__(self, base: int, most: int, warm_keys: int) -> None:
        self.base = base  # 0: no spares at all
        self.most = max(base, most)
        self.warm_keys = warm_keys
        self.by_key: dict[Key, list[ClaudeProcess]] = {}
        self.factories: OrderedDict[Key, Callable[[], Spawn]] = OrderedDict()  # the warm keys, LRU first
        self._demand: dict[Key, deque[float]] = {}
        self._used: dict[Key, float] = {}
        self.hits = 0
        self.started = 0

    def starting(self) -> int:
        """Spares still connecting."""
        return sum(1 for spares in self.by_key.values() for process in spares if process.connecting)

    def count(self) -> int:
        return sum(len(spares) for spares in self.by_key.values())

    def target(self, key: Key, now: float | None = None) -> int:
        """How many spares `key` should have: its largest recent burst, between base and most."""
        if self.base <= 0 or key not in self.factories:
            return 0
        now = time.monotonic() if now is None else now
        demand = self._demand.get(key, deque())
        while demand and now - demand[0] > DEMAND_WINDOW:
            demand.popleft()
        burst = largest = 0
        previous: float | None = None
        for moment in demand:
            burst = burst + 1 if previous is not None and moment - previous < BURST_GAP else 1
            largest = max(largest, burst)
            previous = moment
        return max(self.base, min(self.most, largest))

    def take(self, key: Key) -> ClaudeProcess | None:
        """A spare for `key` (connected first, else one still connecting); None if there is none.
        Every call is a new conversation asking: it counts towards the key's demand."""
        self._demand.setdefault(key, deque()).append(time.monotonic())
        spares = self.by_key.get(key) or []
        spares.sort(key=lambda process: not process.alive)
        while spares:
            process = spares.pop(0)
            if process.alive or process.connecting:
                self.hits += 1
                return process
        return None

    def warm(self, key: Key, factory: Callable[[], Spawn]) -> list[ClaudeProcess]:
        """Remember `key` as in use; returns the spares of option sets that went cold."""
        self.factories[key] = factory
        self.factories.move_to_end(key)
        self._used[key] = time.monotonic()
        cold: list[ClaudeProcess] = []
        while len(self.factories) > self.warm_keys:
            gone, _ = self.factories.popitem(last=False)
            cold += self._forget(gone)
        return cold

    def _forget(self, key: Key) -> list[ClaudeProcess]:
        self.factories.pop(key, None)
        self._demand.pop(key, None)
        self._used.pop(key, None)
        return self.by_key.pop(key, [])

    def neediest(self) -> list[Key]:
        """The warm option sets in the order a free start slot should serve them: the fewest spares
        first (one with none is cold, a second spare only serves a burst), the most recently used
        first among equals."""
        recent_first = list(reversed(self.factories))
        return sorted(recent_first, key=lambda key: len(self.by_key.get(key, [])))

    def missing(self, key: Key) -> int:
        return max(0, self.target(key) - len(self.by_key.get(key, [])))

    def add(self, key: Key, process: ClaudeProcess) -> None:
        self.by_key.setdefault(key, []).append(process)
        self.started += 1

    def remove(self, process: ClaudeProcess) -> bool:
        for spares in self.by_key.values():
            if process in spares:
                spares.remove(process)
                return True
        return False

    def surplus(self, idle_timeout: float) -> list[ClaudeProcess]:
        """Spares no longer wanted: of keys unused for `idle_timeout` or gone cold, and those
        beyond each key's target. They are taken out; the caller closes them."""
        now = time.monotonic()
        out: list[ClaudeProcess] = []
        for key, used in list(self._used.items()):
            if now - used > idle_timeout:
                out += self._forget(key)
        for key in list(self.by_key):
            spares = self.by_key[key]
            keep = self.target(key, now)
            spares.sort(key=lambda process: not process.alive)  # keep connected ones
            out += spares[keep:]
            del spares[keep:]
            if not spares:
                del self.by_key[key]
        return out

    def victim(self) -> ClaudeProcess | None:
        """The spare to give up first when room is needed: of the coldest key, beyond target first."""
        for key in [k for k in self.by_key if k not in self.factories] + list(self.factories):
            spares = self.by_key.get(key)
            if spares:
                return spares.pop()
        return None
