"""Running batches in the background, on the same engine as every door, interactive traffic first.

- Share: at most GATEWAY_BATCH_CONCURRENCY batch requests run at once, and a new one starts only
  while the interactive turns in flight (the doors' requests, `traffic.turns`) and the batch
  requests together leave a process slot free (GATEWAY_MAX_PROCESSES). A batch request never
  preempts a turn; a turn that arrives while the share is busy may still find its slot taken, so
  the share is kept small (1 by default). Requests a busy gateway or the key's max_concurrent turn
  away (429 gateway_busy, too_many_concurrent_requests, too_many_processes) go back to pending
  and are tried again a moment later.
- Fair across keys: each free slot goes to the key (tenant) with pending requests that has the
  fewest running and was served longest ago (fair.py), so a 100,000-request batch of one key does
  not hold up another key's small one; within a key, oldest batch first, its requests in order.
- Owner: each request runs as the batch's creator, its key resolved again (policy, budget, stored
  Claude credential): a key revoked since makes the requests left `errored` (authentication_error),
  not canceled (which is the client's own act). A key over its budget: that request `errored` with
  the budget's 429. A key whose files and batch results fill its files quota: `errored` with 413
  (bounds.py).
- Store: a result is written as its request ends; a restart runs what is pending, including the
  requests that were running when the gateway stopped.
- Cancel and expiry: pending requests are settled at once (canceled / expired); running ones are
  cancelled like a client that leaves (the CLI's turn is interrupted), and settled the same way.

The runner is given the parts it uses (app/http/wiring.py builds them): how one request is
answered (the batch door, app/doors/batch.py), the store and the key's bounds, the keys, the
budget check, the interactive traffic; it knows nothing of HTTP or of the doors.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..core.credentials import Credential
from ..core.errors import GatewayError
from ..core.settings import Settings
from ..core.traffic import Traffic
from ..tenancy.auth import Tenant
from ..tenancy.keys import KeyService
from .bounds import Bounds
from .fair import Turns
from .model import CANCELED, ERRORED, EXPIRED, PENDING, SUCCEEDED, Batch, BatchRequest, Outcome
from .owner import owner
from .stores import Storage

log = logging.getLogger(__name__)

POLL = 0.5  # seconds between looks at the share (interactive turns ending) and expiry
RETRY_LATER = frozenset({"gateway_busy", "too_many_concurrent_requests", "too_many_processes"})
BACKOFF = 1.0  # seconds before a request the gateway was too busy for is tried again

Finalizer = Callable[[Batch], Awaitable[None]]
Key = tuple[str, int]  # (batch id, request index)
# One request's whole answer, as its door answers it (a GatewayError as the door would raise it):
# the batch's owner, its stored credential, the batch's endpoint, the request's params.
Answer = Callable[[Tenant, Credential | None, str, dict[str, Any]], Awaitable[dict[str, Any]]]
Budget = Callable[[Tenant], Awaitable[None]]  # raises the key's budget refusal (429)


class BatchRunner:
    def __init__(
        self,
        store: Storage,
        bounds: Bounds,
        answer: Answer,
        *,
        keys: KeyService,
        budget: Budget,
        traffic: Traffic,
        settings: Settings,
        replicated: bool,
        finalizers: Mapping[str, Finalizer] | None = None,
    ) -> None:
        self.store = store
        self.bounds = bounds
        self.answer = answer
        self.keys = keys
        self.budget = budget
        self.traffic = traffic  # the interactive turns, which come first, and the drain
        self.settings = settings
        self.replicated = replicated  # other replicas (Redis) may leave batches to adopt
        self.replica = uuid.uuid4().hex  # this replica, as the batches' leases name it
        self.running: dict[Key, asyncio.Task[None]] = {}
        self.settling: dict[str, str] = {}  # batch id -> CANCELED or EXPIRED, while its requests end
        self.finalizers = dict(finalizers or {})  # per API: what a batch's end writes (OpenAI's files)
        self._later: dict[Key, float] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._cuts: set[asyncio.Task[None]] = set()  # tasks this runner cancelled
        self.turns = Turns()  # which key's request starts next

    # --- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Run (and resume) batches; idempotent, so that a new batch also starts the runner."""
        if self._loop is None or self._loop.done():
            self._wake = asyncio.Event()
            self._loop = asyncio.create_task(self._forever())

    def _cut(self, task: asyncio.Task[None]) -> None:
        self._cuts.add(task)
        task.add_done_callback(self._cuts.discard)
        task.cancel()

    def _cancelled(self) -> bool:
        """Whether the running task is being cancelled: redis-py, cancelled in the middle of a
        command, raises an error of its own, which must not pass for a failed request or round."""
        return asyncio.current_task() in self._cuts

    def poke(self) -> None:
        self.start()
        assert self._wake is not None
        self._wake.set()

    async def stop(self) -> None:
        """Stop running: the requests in flight stay pending, and run again on the next start."""
        self._stopping = True
        tasks = [t for t in (self._loop, *self.running.values()) if t is not None]
        for task in tasks:
            self._cut(task)
        if tasks:
            await asyncio.wait(tasks)
        self._loop, self._stopping = None, False

    async def _forever(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            idle = False
            try:
                idle = not await self._round()
            except Exception:
                if self._cancelled():
                    raise asyncio.CancelledError() from None
                log.exception("a round of the batch runner failed")
            # Nothing to run, and no other replica to adopt a batch from: sleep until a batch comes
            # (poke), rather than read the store twice a second forever.
            wait = None if idle and not self.replicated else POLL
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    # --- a round: expire, end, and fill the share fairly --------------------------------------
    async def _round(self) -> bool:
        """Whether there was any unfinished batch."""
        now = time.time()
        batches = await self.store.unfinished()
        ready: list[Batch] = []
        for batch in batches:
            try:
                if await self._tend(batch, now):
                    ready.append(batch)
            except Exception:  # one batch's failure (its end's files, say) must not starve the others
                if self._cancelled():
                    raise asyncio.CancelledError() from None
                log.exception("the batch runner failed on batch %s", batch.id)
        await self._fill(ready, {b.id: b.tenant for b in batches}, now)
        self.turns.forget({b.tenant for b in batches})
        return bool(batches)

    async def _tend(self, batch: Batch, now: float) -> bool:
        """One batch's part of a round: its lease, its cancel or expiry, its end; whether it may
        start requests."""
        if not await self.store.lease(batch.id, self.replica):
            return False  # another replica runs it (with Redis); adopted once that one's lease lapses
        state = self.settling.get(batch.id) or (
            CANCELED if batch.cancel_initiated_at is not None else EXPIRED if now >= batch.expires_at else None
        )
        if state is not None:  # again each round: a request cancelled before it began is pending
            await self.settle(batch, state, wake=False)
            batch = await self.store.get(batch.id) or batch
        mine = [key for key in self.running if key[0] == batch.id]
        if not batch.counts.get(PENDING) and not mine:
            await self._end(batch)
            return False
        return batch.id not in self.settling and not self.traffic.draining and bool(batch.counts.get(PENDING))

    async def _fill(self, ready: list[Batch], tenant_of: dict[str, str], now: float) -> None:
        """Start requests while there is room, one at a time from the key whose turn it is (fair.py)."""
        queues = self.turns.queues(ready)
        while queues and self._room():
            running: dict[str, int] = {}
            for batch_id, _ in self.running:
                key = tenant_of.get(batch_id)
                if key is not None:
                    running[key] = running.get(key, 0) + 1
            key = self.turns.order(queues, running)[0]
            started = False
            while queues[key] and not started:
                batch = queues[key][0]
                try:
                    started = await self._start_next(batch, now)
                except Exception:
                    if self._cancelled():
                        raise asyncio.CancelledError() from None
                    log.exception("the batch runner failed on batch %s", batch.id)
                if not started:
                    queues[key].pop(0)  # nothing of it to start now: the key's next batch
            if started:
                self.turns.served(key)
            else:
                del queues[key]

    async def _start_next(self, batch: Batch, now: float) -> bool:
        """Start the batch's next pending request that is neither running nor waiting; whether there was one."""
        skip = {key[1] for key in self.running if key[0] == batch.id}
        skip |= {key[1] for key, at in self._later.items() if key[0] == batch.id and at > now}
        found = await self.store.pending(batch.id, 1, skip)
        if not found or self._stopping:  # a stop that came during the read (redis-py may swallow it)
            return False
        idx, request = found[0]
        self._later.pop((batch.id, idx), None)
        task = asyncio.create_task(self._run(batch, idx, request))
        self.running[(batch.id, idx)] = task
        task.add_done_callback(self._ended_callback((batch.id, idx)))
        return True

    def _room(self) -> bool:
        share = len(self.running)
        interactive = len(self.traffic.turns)
        settings = self.settings
        return share < settings.batch_concurrency and interactive + share < settings.max_processes

    async def _end(self, batch: Batch) -> None:
        finalize = self.finalizers.get(batch.api)
        if finalize is not None:
            await finalize(batch)
        batch.ended_at = time.time()
        await self.store.update(batch, ("ended_at", "extra"))
        self.settling.pop(batch.id, None)

    # --- one request ------------------------------------------------------------------------------
    async def _run(self, batch: Batch, idx: int, request: BatchRequest) -> None:
        key = (batch.id, idx)
        try:
            outcome = await self._outcome(batch, request)
            if outcome is None:
                self._later[key] = time.time() + BACKOFF
            else:
                await self.store.finish(batch.id, idx, outcome)
        except asyncio.CancelledError:
            state = self.settling.get(batch.id)
            if state is None:
                raise  # the gateway stops: the request stays pending
            await asyncio.shield(self.store.finish(batch.id, idx, Outcome(state, 0, None)))

    def _ended_callback(self, key: Key) -> Callable[[asyncio.Task[None]], None]:
        def ended(task: asyncio.Task[None]) -> None:
            """The request's task is done (even one cancelled before it began): its slot is free."""
            self.running.pop(key, None)
            if self._wake is not None:
                self._wake.set()

        return ended

    async def _outcome(self, batch: Batch, request: BatchRequest) -> Outcome | None:
        """The request's outcome; None: the gateway was too busy for it, try again later."""
        try:
            tenant, credential = await owner(self.keys, batch)
            await self.budget(tenant)
            await self.bounds.check_output(batch.tenant)
            body = await self.answer(tenant, credential, batch.endpoint, request.params)
            return Outcome(SUCCEEDED, 200, body)
        except GatewayError as error:
            if self._cancelled():  # a cancel some library turned into an error of its own
                raise asyncio.CancelledError() from None
            if error.code in RETRY_LATER:
                return None
            envelope = error.anthropic_body() if batch.api == "anthropic" else error.openai_body()
            return Outcome(ERRORED, error.status, envelope)
        except Exception:
            if self._cancelled():
                raise asyncio.CancelledError() from None
            log.exception("a batch request failed")
            failed = GatewayError(500, "The gateway failed unexpectedly.", "server_error", "internal_error")
            return Outcome(ERRORED, 500, failed.anthropic_body() if batch.api == "anthropic" else failed.openai_body())

    # --- cancel and expiry ------------------------------------------------------------------------
    async def settle(self, batch: Batch, state: str, wake: bool = True) -> None:
        """End a batch early: pending requests come to `state` (CANCELED or EXPIRED) at once, and
        running ones are cancelled (their CLI turns interrupted) and come to it as they stop."""
        self.settling[batch.id] = state
        mine = {key[1]: task for key, task in self.running.items() if key[0] == batch.id}
        await self.store.settle(batch.id, Outcome(state, 0, None), set(mine))
        for task in mine.values():
            self._cut(task)
        if wake:
            self.poke()

    async def cancel(self, batch: Batch) -> None:
        if batch.ended or batch.cancel_initiated_at is not None:
            return
        batch.cancel_initiated_at = time.time()
        await self.store.update(batch, ("cancel_initiated_at",))
        await self.settle(batch, CANCELED)
