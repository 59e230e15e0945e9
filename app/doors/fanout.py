"""Chat's `n`: the answers to one request, each tagged with its choice index; the budget of all n
is reserved at once (n times one answer's estimate).

One answer is the request's turn in its session, as on every door. Several are independent
one-off turns outside any session (a session continues one answer, not several), run side by
side on their own processes; their events are merged as they come, and the first failure ends
them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from ..core.events import Event
from ..core.turn import Turn
from ..sessions.service import SessionService
from ..sessions.turn import SessionTurn
from ..tenancy.auth import ANONYMOUS, Tenant

Indexed = tuple[int, Event]


class Choices:
    """The `n` answers to `turn`; `session_id` is known once the first event (or error) has come."""

    def __init__(
        self, service: SessionService, turn: Turn, session_id: str | None, n: int, tenant: Tenant = ANONYMOUS
    ) -> None:
        self._service, self._turn, self._n, self._tenant = service, turn, n, tenant
        self._run: SessionTurn | None = service.turn(turn, session_id, tenant, "chat") if n == 1 else None

    @property
    def session_id(self) -> str | None:
        return self._run.session_id if self._run else None

    def events(self) -> AsyncGenerator[Indexed, None]:
        if self._run is not None:
            return indexed(self._run.events())
        return self._answers()

    async def _answers(self) -> AsyncGenerator[Indexed, None]:
        """The n answers, their budget reserved for all n at once (429 unless all n fit); each
        answer's ledger entry settles its own hold, and any hold left (an answer cancelled before
        it began) is given back at the end."""
        service, tenant = self._service, self._tenant
        holds = await service.limits.reserve(tenant, self._turn, self._n)
        try:
            streams = [service.one_off(self._turn, tenant, "chat", holds[i] if holds else None) for i in range(self._n)]
            async for item in merged(streams):
                yield item
        finally:
            if holds:
                await asyncio.shield(service.limits.store.release(tenant.id, holds))


def by_choice(items: list[Indexed], n: int) -> list[list[Event]]:
    """The merged events sorted back into each choice's own, in order."""
    choices: list[list[Event]] = [[] for _ in range(n)]
    for index, event in items:
        choices[index].append(event)
    return choices


async def indexed(events: AsyncGenerator[Event, None]) -> AsyncGenerator[Indexed, None]:
    """One choice's events, tagged with choice index 0."""
    try:
        async for event in events:
            yield 0, event
    finally:
        await events.aclose()


async def merged(streams: list[AsyncGenerator[Event, None]]) -> AsyncGenerator[Indexed, None]:
    """Several choices' events as they come, tagged with their choice index. The first failure
    ends them all."""
    queue: asyncio.Queue[tuple[int, Event | BaseException | None]] = asyncio.Queue()

    async def pump(index: int, events: AsyncGenerator[Event, None]) -> None:
        ended: Event | BaseException | None = None
        try:
            async with aclosing(events):
                async for event in events:
                    queue.put_nowait((index, event))
        except BaseException as exc:  # a cancelled start included: the merge must still hear of it
            ended = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            queue.put_nowait((index, ended))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
