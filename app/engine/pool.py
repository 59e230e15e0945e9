"""The Claude Code processes of one gateway: a live limit, warm spares, idle eviction.

- Every process counts against `max_live` from spawn until it has exited (a closing CLI still
  holds its memory for a few milliseconds to seconds): eviction frees room as processes exit.
- A conversation's process stays connected between turns ("parked"); parked processes are
  evicted least recently used first when a new one needs the room, and closed after
  `idle_timeout`. The conversation itself stays resumable from its transcript.
- Spares: connected processes with no conversation yet, per spawn-time option set ("key"). After
  a new conversation is served, a replacement spare for its key is started in the background.
  Only the most recently used `warm_keys` option sets are kept warm.
  Starting a CLI costs 0.3-0.4 CPU-seconds, so a spare is started only once no turn has been
  in flight for SPARE_QUIET seconds (or after SPARE_MAX_DELAY): a client's immediate follow-up
  would otherwise share the CPU with it (measured: 36-51 ms instead of 28 ms on 2 cores).
- When every slot is busy, a request waits up to `busy_wait`, then gets 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from ..errors import rate_limited
from .options import Spawn
from .process import ClaudeProcess

log = logging.getLogger(__name__)

Key = Hashable
SPARE_QUIET = 0.25
SPARE_MAX_DELAY = 3.0


class ProcessPool:
    def __init__(
        self,
        *,
        max_live: int,
        spares_per_key: int,
        warm_keys: int,
        busy_wait: float,
        connect_timeout: float,
        on_spare_dropped: Callable[[ClaudeProcess], None] = lambda process: None,
    ) -> None:
        self.max_live = max_live
        self.spares_per_key = spares_per_key
        self.warm_keys = warm_keys
        self.busy_wait = busy_wait
        self.connect_timeout = connect_timeout
        self.processes: set[ClaudeProcess] = set()  # counted against max_live
        self.exiting: set[ClaudeProcess] = set()  # asked to close, not yet gone
        self._spares: dict[Key, list[ClaudeProcess]] = {}
        self._warm: OrderedDict[Key, Callable[[], Spawn]] = OrderedDict()
        self._warm_used: dict[Key, float] = {}
        self._parked: OrderedDict[ClaudeProcess, tuple[float, Callable[[], None]]] = OrderedDict()
        self._freed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self.spawned_total = 0
        self.spare_hits = 0
        self.spares_started = 0
        self.on_spare_dropped = on_spare_dropped  # a spare's folder is the pool's to remove
        self._last_activity = time.monotonic()

    # --- getting a process ----------------------------------------------------------------------
    async def spawn(self, spawn: Spawn) -> ClaudeProcess:
        """A new connected process (waits for room, evicting idle processes first)."""
        await self._reserve()
        process = ClaudeProcess(spawn.options, spawn.bridge)
        self._track(process)
        await process.start(self.connect_timeout)
        return process

    def take_spare(self, key: Key) -> ClaudeProcess | None:
        """A spare for `key`: connected, or still connecting (the caller awaits `ready()`, which is
        sooner than a new spawn would be). Dead spares are dropped on the way."""
        spares = self._spares.get(key) or []
        spares.sort(key=lambda process: not process.alive)  # connected ones first
        while spares:
            process = spares.pop(0)
            if process.alive or process.connecting:
                self.spare_hits += 1
                return process
            self._drop_spare(process)
        return None

    async def ready_spare(self, key: Key) -> ClaudeProcess | None:
        """A warm spare for `key`, once it is connected (if it was still starting); None if there
        is none, or if the one taken failed to start."""
        spare = self.take_spare(key)
        if spare is None:
            return None
        try:
            await spare.ready(self.connect_timeout)
        except Exception as exc:
            log.warning("a spare Claude process failed to start (%s); starting another", exc)
            return None
        return spare

    def _drop_spare(self, process: ClaudeProcess) -> None:
        self.discard(process)
        self.on_spare_dropped(process)

    def keep_warm(self, key: Key, options: Callable[[], Spawn]) -> None:
        """Remember `key` as in use and top up its spares in the background."""
        if self.spares_per_key <= 0:
            return
        self._warm[key] = options
        self._warm.move_to_end(key)
        self._warm_used[key] = time.monotonic()
        while len(self._warm) > self.warm_keys:
            cold, _ = self._warm.popitem(last=False)
            self._warm_used.pop(cold, None)
            for process in self._spares.pop(cold, []):
                self._drop_spare(process)
        missing = self.spares_per_key - len(self._spares.get(key, []))
        for _ in range(missing):
            task = asyncio.create_task(self._add_spare(key, options))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _add_spare(self, key: Key, options: Callable[[], Spawn]) -> None:
        await self._quiet()
        if (
            key not in self._warm
            or self._occupied() >= self.max_live
            or len(self._spares.get(key, [])) >= self.spares_per_key
        ):
            return  # spares never evict anything, and only warm option sets get them
        spawn = options()
        process = ClaudeProcess(spawn.options, spawn.bridge)
        self._track(process)
        self.spares_started += 1
        self._spares.setdefault(key, []).append(process)
        try:
            await process.start(self.connect_timeout)
        except Exception as exc:
            log.warning("could not start a spare Claude process: %s", exc)
            if process in self._spares.get(key, []):
                self._spares[key].remove(process)
            self._drop_spare(process)

    async def _quiet(self) -> None:
        deadline = time.monotonic() + SPARE_MAX_DELAY
        while time.monotonic() < deadline:
            in_turn = any(process.in_turn for process in self.processes)
            if not in_turn and time.monotonic() - self._last_activity >= SPARE_QUIET:
                return
            await asyncio.sleep(0.05)

    def activity(self) -> None:
        """A turn starts or ends now (spares wait for a quiet moment)."""
        self._last_activity = time.monotonic()

    # --- between turns ------------------------------------------------------------------------
    def park(self, process: ClaudeProcess, on_evict: Callable[[], None]) -> None:
        """An idle conversation process: kept, but evictable (LRU) and closed after idling."""
        self._parked[process] = (time.monotonic(), on_evict)
        self._parked.move_to_end(process)
        self._freed.set()
        self.activity()

    def unpark(self, process: ClaudeProcess) -> None:
        self._parked.pop(process, None)

    def discard(self, process: ClaudeProcess, interrupt: bool = False) -> None:
        """Close a process (in the background); its slot is free at once."""
        self._parked.pop(process, None)
        if process in self.processes:
            self.processes.discard(process)
            self.exiting.add(process)
            self._freed.set()
        process.close(interrupt=interrupt)

    def close_idle(self, idle_timeout: float) -> int:
        """Close conversation processes idle for `idle_timeout`, and the spares of option sets
        not used for as long (an idle gateway goes back to no Claude process at all)."""
        now, closed = time.monotonic(), 0
        for process, (since, on_evict) in list(self._parked.items()):
            if now - since > idle_timeout:
                on_evict()
                self.discard(process)
                closed += 1
        for key, used in list(self._warm_used.items()):
            if now - used > idle_timeout:
                self._warm.pop(key, None)
                self._warm_used.pop(key, None)
        for key in [k for k in self._spares if k not in self._warm]:  # also those started for a key gone cold
            for process in self._spares.pop(key):
                self._drop_spare(process)
                closed += 1
        return closed

    async def close_all(self, grace: float) -> None:
        for task in list(self._background):
            task.cancel()
        for spares in self._spares.values():
            for process in spares:
                self.on_spare_dropped(process)
        self._spares.clear()
        for process in list(self.processes):
            self.discard(process, interrupt=True)
        if self.exiting:
            await asyncio.wait_for(asyncio.gather(*(p.wait_closed() for p in list(self.exiting))), grace)

    def stats(self) -> dict[str, int]:
        return {
            "live": len(self.processes),
            "max_live": self.max_live,
            "parked": len(self._parked),
            "spares": sum(len(s) for s in self._spares.values()),
            "exiting": len(self.exiting),
            "spawned_total": self.spawned_total,
            "spares_started": self.spares_started,
            "spare_hits": self.spare_hits,
        }

    # --- internals ----------------------------------------------------------------------------
    def _track(self, process: ClaudeProcess) -> None:
        self.processes.add(process)
        self.spawned_total += 1

        def gone() -> None:
            self.processes.discard(process)
            self.exiting.discard(process)
            parked = self._parked.pop(process, None)
            if parked is not None:  # died while parked: its conversation must not count on it
                parked[1]()
            for spares in self._spares.values():
                if process in spares:
                    spares.remove(process)
                    self.on_spare_dropped(process)
            self._freed.set()

        process.on_exit(gone)

    def _occupied(self) -> int:
        """Slots in use: live processes and those still exiting (their memory is not free yet)."""
        return len(self.processes) + len(self.exiting)

    async def _reserve(self) -> None:
        deadline = time.monotonic() + self.busy_wait
        while self._occupied() >= self.max_live:
            # Evict only when the processes already on their way out will not free enough room.
            if len(self.exiting) < self._occupied() - self.max_live + 1 and self._victim() is not None:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise rate_limited(
                    f"All {self.max_live} Claude processes of this gateway are busy; retry shortly.",
                    max(1, int(self.busy_wait) or 1),
                    code="gateway_busy",
                )
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _victim(self) -> ClaudeProcess | None:
        """Free one slot: a spare of the coldest key first, then the least recently used parked process."""
        for key in list(self._warm) + [k for k in self._spares if k not in self._warm]:
            if self._spares.get(key):
                process = self._spares[key].pop(0)
                self._drop_spare(process)
                return process
        if self._parked:
            process, (_, on_evict) = next(iter(self._parked.items()))
            on_evict()
            self.discard(process)
            return process
        return None
