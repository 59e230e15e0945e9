"""The Claude Code processes of one gateway: a process limit and a memory budget, spares, and
which idle process goes first when room is needed.

- Every process counts against `max_live` and the memory budget from spawn until it has exited
  (a closing CLI still holds its memory for a few milliseconds to seconds).
- A conversation's process stays connected between turns ("parked", parking.py). Parked processes
  are worth what their conversation is likely to bring: a turn held for the client's function
  results most, then a named session, then a stateless conversation that continued before, then a
  one-off. Room is made from the least worth first (spares of the coldest option set before any of
  them), least recently used among equals. A one-off closes after `one_off_timeout` idle, the rest
  after `idle_timeout`; the conversation stays resumable from its transcript.
- Spares (spares.py) start at once at a lower CPU priority (engine/wrapper_script.py), SPARES_STARTING
  at a time, the neediest option sets first; they never evict anything, and are sized to bursts.
- Idle processes (parked, spares) are frozen after FREEZE_AFTER s (process.py): next to no CPU.
- When there is no room, a request waits up to `busy_wait`, then gets 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from ...core.errors import rate_limited
from ..wrapper_script import renice
from .memory import ESTIMATE, rss, tmp_in_use
from .options import Spawn
from .parking import Parking
from .process import ClaudeProcess
from .spares import Spares

log = logging.getLogger(__name__)

Key = Hashable
FREEZE_AFTER = 3.0  # seconds idle before a process is frozen (a quick follow-up finds it running)
# Spares starting at once. A burst's refill must not crowd out the burst itself: each start also
# costs the gateway's own event loop (connect, initialize), which runs at the normal priority.
SPARES_STARTING = 2


class ProcessPool:
    def __init__(
        self,
        *,
        max_live: int,
        memory_budget: int,
        spares_per_key: int,
        most_spares_per_key: int,
        warm_keys: int,
        busy_wait: float,
        connect_timeout: float,
        on_spare_dropped: Callable[[ClaudeProcess], None] = lambda process: None,
    ) -> None:
        self.max_live = max_live
        self.memory_budget = memory_budget
        self.busy_wait = busy_wait
        self.connect_timeout = connect_timeout
        self.processes: set[ClaudeProcess] = set()  # counted against max_live
        self.exiting: set[ClaudeProcess] = set()  # asked to close, not yet gone
        self.spares = Spares(spares_per_key, most_spares_per_key, warm_keys)
        self._parked = Parking()
        self._freed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self.spawned_total = 0
        self.waits_total = 0  # requests that found no room and waited for some
        self.busy_total = 0  # of those, the ones refused with gateway_busy
        self.on_spawned: Callable[[float], None] = lambda seconds: None  # how long a start took (metrics)
        self._renice_refused = False
        self.on_spare_dropped = on_spare_dropped  # a spare's folder is the pool's to remove

    # --- getting a process ----------------------------------------------------------------------
    async def spawn(self, spawn: Spawn) -> ClaudeProcess:
        """A new connected process (waits for room, making it from the least worth first)."""
        await self._reserve()
        process = ClaudeProcess(spawn.options, spawn.bridge, spawn.gate, spawn.on_exit, spawn.prompts)
        self._track(process)
        started = time.monotonic()
        await process.start(self.connect_timeout)
        self.on_spawned(time.monotonic() - started)
        return process

    async def ready_spare(self, key: Key) -> ClaudeProcess | None:
        """A spare for `key`, once connected (if it was still starting), at normal priority; None
        if there is none, or if the one taken failed to start."""
        spare = self.spares.take(key)
        if spare is None:
            return None
        spare.thaw()
        try:
            await spare.ready(self.connect_timeout)
        except Exception as exc:
            log.warning("a spare Claude process failed to start (%s); starting another", exc)
            return None
        if spare.pid is not None and not renice(spare.pid, 0) and not self._renice_refused:
            self._renice_refused = True
            log.info("spares keep their lower CPU priority when taken: this system does not let us raise it")
        return spare

    def keep_warm(self, key: Key, factory: Callable[[], Spawn]) -> None:
        """Remember `key` as in use, and top up its spares in the background."""
        if self.spares.base <= 0:
            return
        for process in self.spares.warm(key, factory):
            self._drop_spare(process)
        self._top_up(key)

    def _top_up(self, key: Key) -> None:
        """Start the spares `key` misses, SPARES_STARTING at a time (each that connects starts the next)."""
        factory = self.spares.factories.get(key)
        if factory is None:
            return  # gone cold
        for _ in range(self.spares.missing(key)):
            if self.spares.starting() >= SPARES_STARTING or not self._room(spare=True):
                break  # spares never evict anything
            process = self._start_spare(key, factory)
            task = asyncio.create_task(self._connect_spare(key, process))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _start_spare(self, key: Key, factory: Callable[[], Spawn]) -> ClaudeProcess:
        spawn = factory()
        process = ClaudeProcess(spawn.options, spawn.bridge, spawn.gate, spawn.on_exit, spawn.prompts)
        self._track(process)
        process.launch()  # launched before anyone can take it
        self.spares.add(key, process)
        return process

    async def _connect_spare(self, key: Key, process: ClaudeProcess) -> None:
        started = time.monotonic()
        try:
            await process.ready(self.connect_timeout)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                log.warning("could not start a spare Claude process: %s", exc)
            self.spares.remove(process)
            self._drop_spare(process)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self.on_spawned(time.monotonic() - started)
        self._freeze_later(process)
        for warm in self.spares.neediest():  # a start slot is free: the sets that miss spares most
            self._top_up(warm)

    def _drop_spare(self, process: ClaudeProcess) -> None:
        self.discard(process)
        self.on_spare_dropped(process)

    # --- between turns ------------------------------------------------------------------------
    def park(self, process: ClaudeProcess, on_evict: Callable[[], None], worth: int) -> None:
        """An idle conversation process: kept, but evictable by worth and closed after idling."""
        self._parked.park(process, on_evict, worth)
        self._freed.set()
        self._freeze_later(process)

    def unpark(self, process: ClaudeProcess) -> None:
        self._parked.pop(process)
        process.thaw()

    def discard(self, process: ClaudeProcess, interrupt: bool = False) -> None:
        """Close a process (in the background); it counts until it has exited."""
        self._parked.pop(process)
        if process in self.processes:
            self.processes.discard(process)
            self.exiting.add(process)
        process.close(interrupt=interrupt)

    def _freeze_later(self, process: ClaudeProcess) -> None:
        def freeze() -> None:
            parked = self._parked.get(process)
            idle = parked is not None and time.monotonic() - parked.since >= FREEZE_AFTER * 0.9
            if idle or any(process in spares for spares in self.spares.by_key.values()):
                process.freeze()

        asyncio.get_running_loop().call_later(FREEZE_AFTER, freeze)

    def close_idle(self, idle_timeout: float, one_off_timeout: float) -> int:
        """Close processes idle for longer than their class allows, and spares no longer wanted
        (an idle gateway goes back to its base spares, and to none once unused for `idle_timeout`)."""
        closed = 0
        for process, parked in self._parked.expired(idle_timeout, one_off_timeout):
            parked.on_evict()
            self.discard(process)
            closed += 1
        for process in self.spares.surplus(idle_timeout):
            self._drop_spare(process)
            closed += 1
        return closed

    async def close_all(self, grace: float) -> None:
        for task in list(self._background):
            task.cancel()
        for process in self.spares.surplus(-1):
            self.on_spare_dropped(process)
        for process in list(self.processes):
            self.discard(process, interrupt=True)
        if self.exiting:
            await asyncio.wait_for(asyncio.gather(*(p.wait_closed() for p in list(self.exiting))), grace)

    # --- room ---------------------------------------------------------------------------------
    def memory_in_use(self) -> int:
        processes = self.processes | self.exiting
        return sum(rss(p.pid) + (tmp_in_use(p.pid) if p.sandboxed else 0) for p in processes)

    def _room(self, spare: bool = False) -> bool:
        """Whether one more process fits the limit and the budget (a spare wants a spare margin)."""
        occupied = len(self.processes) + len(self.exiting)
        margin = ESTIMATE if spare else 0
        return occupied < self.max_live and self.memory_in_use() + ESTIMATE + margin <= self.memory_budget

    async def _reserve(self) -> None:
        deadline, waited = time.monotonic() + self.busy_wait, False
        while not self._room():
            # Give up a process only when those on their way out will not make room soon enough.
            if not self.exiting and self._evict_one():
                continue
            if not waited:
                self.waits_total, waited = self.waits_total + 1, True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.busy_total += 1
                raise rate_limited(
                    "Every Claude process slot of this gateway is busy (process limit or memory budget); "
                    "retry shortly.",
                    max(1, int(self.busy_wait) or 1),
                    code="gateway_busy",
                )
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    def make_room_for(self, tenant: str, limit: int | None) -> None:
        """Before a tenant takes one more process: past its own limit, its least recently used idle
        processes close (never another tenant's); if all of them are in turns, 429."""
        if limit is None:
            return
        mine = [p for p in self.processes if p.tenant == tenant]
        idle = self._parked.oldest_first(mine)
        if len(mine) - len(idle) >= limit:
            raise rate_limited(
                f"This API key's {limit} Claude processes (its max_processes) are all busy; retry shortly.",
                max(1, int(self.busy_wait) or 1),
                code="too_many_processes",
            )
        for process in idle[: max(0, len(mine) - limit + 1)]:
            self._parked[process].on_evict()
            self.discard(process)

    def _evict_one(self) -> bool:
        """Free one process: a spare of the coldest key first, then the parked process worth least."""
        spare = self.spares.victim()
        if spare is not None:
            self._drop_spare(spare)
            return True
        least = self._parked.least_worth()
        if least is not None:
            process, parked = least
            parked.on_evict()
            self.discard(process)
            return True
        return False

    def _track(self, process: ClaudeProcess) -> None:
        self.processes.add(process)
        self.spawned_total += 1

        def gone() -> None:
            self.processes.discard(process)
            self.exiting.discard(process)
            parked = self._parked.pop(process)
            if parked is not None:  # died while parked: its conversation must not count on it
                parked.on_evict()
            if self.spares.remove(process):
                self.on_spare_dropped(process)
            self._freed.set()

        process.on_exit(gone)

    def stats(self) -> dict[str, Any]:
        return {
            "live": len(self.processes),
            "max_live": self.max_live,
            "parked": len(self._parked),
            "held": self._parked.held(),
            "spares": self.spares.count(),
            "spares_starting": self.spares.starting(),
            "exiting": len(self.exiting),
            "frozen": sum(1 for process in self.processes if process.frozen),
            "spawned_total": self.spawned_total,
            "waits_total": self.waits_total,
            "busy_total": self.busy_total,
            "spares_started": self.spares.started,
            "spare_hits": self.spares.hits,
            "memory_in_use_mib": self.memory_in_use() // (1024 * 1024),
            "memory_budget_mib": self.memory_budget // (1024 * 1024),
        }
