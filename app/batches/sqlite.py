"""Batches in the embedded SQLite store (app/store/schema.py, tables `batches` and
`batch_requests`), so that a restart resumes what was unfinished and keeps every result.

Each call is one short transaction in a worker thread, as in app/store/sqlite.py. A request's
result is written the moment it ends, and only over a pending one: a request that a cancel or the
expiry settled stays settled when its turn comes back late.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, LargeBinary, cast, func, select
from sqlalchemy.engine import Row

from ..store.schema import batch_requests, batches
from ..store.sqlite import private_database, sqlite_engine
from .model import PENDING, Batch, BatchRequest, Outcome

T = TypeVar("T")


class BatchStore:
    def __init__(self, data_dir: Path) -> None:
        self.engine = sqlite_engine(f"sqlite:///{private_database(data_dir)}")
        # batch id -> the bytes of its results (output_bytes), and what keeps a count and a write apart
        self._sizes: dict[str, int] = {}
        self._sizing = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    async def _run(self, work: Callable[[Connection], T]) -> T:
        def in_thread() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        return await asyncio.to_thread(in_thread)

    # --- batches ------------------------------------------------------------------------------
    async def add(self, batch: Batch, requests: list[BatchRequest]) -> None:
        rows = [
            {
                "batch_id": batch.id,
                "idx": i,
                "custom_id": r.custom_id,
                "params": json.dumps(r.params),
                "state": r.state,
                "result": None if r.result is None else json.dumps(r.result),
            }
            for i, r in enumerate(requests)
        ]

        def add(c: Connection) -> None:
            c.execute(batches.insert().values(**_batch_row(batch)))
            if rows:
                c.execute(batch_requests.insert(), rows)

        await self._run(add)

    async def get(self, batch_id: str) -> Batch | None:
        def get(c: Connection) -> Batch | None:
            row = c.execute(select(batches).where(batches.c.id == batch_id)).first()
            return None if row is None else _with_counts(c, [_batch(row)])[0]

        return await self._run(get)

    async def listed(self, tenant: str, api: str) -> list[Batch]:
        """A tenant's batches of one API, newest first."""
        query = (
            select(batches)
            .where(batches.c.tenant == tenant, batches.c.api == api)
            .order_by(batches.c.created.desc(), batches.c.id.desc())
        )
        return await self._run(lambda c: [_batch(row) for row in c.execute(query)])

    async def counted(self, found: list[Batch]) -> list[Batch]:
        return await self._run(lambda c: _with_counts(c, found))

    async def unfinished(self) -> list[Batch]:
        query = select(batches).where(batches.c.ended_at.is_(None)).order_by(batches.c.created)
        return await self._run(lambda c: _with_counts(c, [_batch(row) for row in c.execute(query)]))

    async def open_count(self, tenant: str) -> int:
        """How many of the tenant's batches (both APIs) have not ended."""
        query = select(func.count()).where(batches.c.tenant == tenant, batches.c.ended_at.is_(None))
        return await self._run(lambda c: int(c.execute(query).scalar() or 0))

    async def output_bytes(self, tenant: str) -> int:
        """The bytes of results the store holds for the tenant: every Anthropic batch's, and the
        OpenAI batches' not ended yet (an ended one's are its output and error files, which the
        files store counts). Each batch's is read once, then kept up to date as its results are
        written (this process is the store's only writer): reading them all at each request's start
        took 0.3 s for a key with 100,000 results."""
        held = select(batches.c.id).where(
            batches.c.tenant == tenant, (batches.c.api != "openai") | batches.c.ended_at.is_(None)
        )

        def count(c: Connection) -> int:
            ids = [row.id for row in c.execute(held)]
            with self._sizing:
                missing = [i for i in ids if i not in self._sizes]
                if missing:
                    size = func.coalesce(func.sum(func.length(cast(batch_requests.c.result, LargeBinary))), 0)
                    query = (
                        select(batch_requests.c.batch_id, size)
                        .where(batch_requests.c.batch_id.in_(missing))
                        .group_by(batch_requests.c.batch_id)
                    )
                    found = {row[0]: int(row[1]) for row in c.execute(query)}
                    self._sizes.update({i: found.get(i, 0) for i in missing})
                return sum(self._sizes[i] for i in ids)

        return await self._run(count)

    async def lease(self, batch_id: str, owner: str) -> bool:
        """Whether this replica runs the batch: always, with the one gateway this store serves."""
        return True

    async def update(self, batch: Batch, fields: tuple[str, ...] | None = None) -> None:
        """Write the batch's `fields` (all by default)."""
        row = {name: value for name, value in _batch_row(batch).items() if fields is None or name in fields}
        await self._run(lambda c: c.execute(batches.update().where(batches.c.id == batch.id).values(**row)))

    async def delete(self, batch_id: str) -> None:
        def delete(c: Connection) -> None:
            c.execute(batch_requests.delete().where(batch_requests.c.batch_id == batch_id))
            c.execute(batches.delete().where(batches.c.id == batch_id))

        await self._run(delete)
        self._forget(batch_id)

    def _forget(self, batch_id: str) -> None:
        with self._sizing:
            self._sizes.pop(batch_id, None)

    # --- requests -----------------------------------------------------------------------------
    async def pending(self, batch_id: str, limit: int, skip: set[int]) -> list[tuple[int, BatchRequest]]:
        """Up to `limit` of a batch's pending requests, in order, but those in `skip` (running)."""
        query = (
            select(batch_requests)
            .where(batch_requests.c.batch_id == batch_id, batch_requests.c.state == PENDING)
            .order_by(batch_requests.c.idx)
            .limit(limit + len(skip))
        )
        rows = await self._run(lambda c: list(c.execute(query)))
        return [(row.idx, _request(row)) for row in rows if row.idx not in skip][:limit]

    async def finish(self, batch_id: str, idx: int, outcome: Outcome) -> bool:
        """Record a request's outcome, if it is still pending; whether it was."""
        result = json.dumps(outcome.result)
        statement = (
            batch_requests.update()
            .where(
                batch_requests.c.batch_id == batch_id,
                batch_requests.c.idx == idx,
                batch_requests.c.state == PENDING,
            )
            .values(state=outcome.state, result=result)
        )

        def finish(c: Connection) -> bool:
            with self._sizing:
                done = c.execute(statement).rowcount > 0
                if done and batch_id in self._sizes:
                    self._sizes[batch_id] += len(result.encode())
                return done

        return await self._run(finish)

    async def settle(self, batch_id: str, outcome: Outcome, but: set[int]) -> None:
        """Every pending request of the batch, but those in `but` (running), comes to `outcome`."""
        statement = (
            batch_requests.update()
            .where(
                batch_requests.c.batch_id == batch_id,
                batch_requests.c.state == PENDING,
                batch_requests.c.idx.not_in(but),
            )
            .values(state=outcome.state, result=json.dumps(outcome.result))
        )
        await self._run(lambda c: c.execute(statement))
        self._forget(batch_id)  # read again when next counted

    async def results(
        self, batch_id: str, start: int = 0, count: int | None = None
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(custom_id, state, result) of every request (or of `count` from index `start`), in order."""
        query = (
            select(batch_requests.c.custom_id, batch_requests.c.state, batch_requests.c.result)
            .where(batch_requests.c.batch_id == batch_id, batch_requests.c.idx >= start)
            .order_by(batch_requests.c.idx)
            .limit(count if count is not None else -1)
        )
        rows = await self._run(lambda c: list(c.execute(query)))
        return [(row.custom_id, row.state, None if row.result is None else json.loads(row.result)) for row in rows]


def _batch_row(batch: Batch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "api": batch.api,
        "tenant": batch.tenant,
        "key_id": batch.key_id,
        "endpoint": batch.endpoint,
        "created": batch.created,
        "expires_at": batch.expires_at,
        "cancel_initiated_at": batch.cancel_initiated_at,
        "ended_at": batch.ended_at,
        "extra": json.dumps(batch.extra),
    }


def _batch(row: Row[Any]) -> Batch:
    return Batch(
        row.id,
        row.api,
        row.tenant,
        row.key_id,
        row.endpoint,
        row.created,
        row.expires_at,
        row.cancel_initiated_at,
        row.ended_at,
        json.loads(row.extra),
    )


def _request(row: Row[Any]) -> BatchRequest:
    return BatchRequest(
        row.custom_id, json.loads(row.params), row.state, None if row.result is None else json.loads(row.result)
    )


def _with_counts(c: Connection, found: list[Batch]) -> list[Batch]:
    if not found:
        return found
    query = (
        select(batch_requests.c.batch_id, batch_requests.c.state, func.count())
        .where(batch_requests.c.batch_id.in_([b.id for b in found]))
        .group_by(batch_requests.c.batch_id, batch_requests.c.state)
    )
    by_id = {b.id: b for b in found}
    for batch in found:
        batch.counts = {}
    for batch_id, state, count in c.execute(query):
        by_id[batch_id].counts[state] = count
    return found
