"""The embedded store: one SQLite file under the data folder, through SQLAlchemy Core.

Every call is a short indexed statement (a key lookup by digest, one ledger insert, a sum over one
key's rows of a period), but SQLite still blocks while it reads the disk or waits for another
writer's lock: each call runs in a worker thread (`asyncio.to_thread`) so that the event loop keeps
serving streams meanwhile. WAL mode lets readers go on while a turn's usage is being written.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets as random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Integer, case, cast, create_engine, event, func, literal, select
from sqlalchemy.engine import Row

from .base import (
    HOSTED_COUNTS,
    LONG_CONTEXT,
    TOKENS,
    BucketTotal,
    KeyRecord,
    Reservation,
    Reserved,
    ResponseRecord,
    Spent,
    UsageEntry,
    UsageTotal,
    admits,
    bucket_span,
)
from .schema import holds as budget_holds
from .schema import keys, migrate, responses, secrets, usage

T = TypeVar("T")
DATABASE = "gateway.db"


def open_sqlite(data_dir: Path) -> SqliteStore:
    """The store in `data_dir` (created, private to this user), migrated to the current schema."""
    return SqliteStore(f"sqlite:///{private_database(data_dir)}")


def private_database(data_dir: Path) -> Path:
    """gateway.db in `data_dir` (made 0700 if missing), created 0600, and an existing one and its
    -wal, -shm and -journal files made 0600: it holds key digests, usage, stored responses and
    uploaded files (it was created 0644). SQLite gives the files it makes beside a database the
    database's own mode. A link in any of their places is refused (ELOOP), never followed."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / DATABASE
    for suffix in ("", "-wal", "-shm", "-journal"):
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if not suffix else 0)
        try:
            fd = os.open(f"{path}{suffix}", flags, 0o600)
        except FileNotFoundError:
            continue
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    return path


def sqlite_engine(url: str) -> Engine:
    """An engine on the SQLite database at `url`, opened as every embedded store opens gateway.db
    (this store, the batches', app/batches/sqlite.py): a 30 s wait for another writer's lock, WAL
    (readers go on while one writes) with synchronous=NORMAL, and the schema migrated to the
    current version."""
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _pragmas)
    with engine.connect() as connection:
        migrate(connection)
        connection.commit()  # migrate commits each step; this keeps a future empty step list safe too
    return engine


class SqliteStore:
    def __init__(self, url: str) -> None:
        self.engine: Engine = sqlite_engine(url)
        with self.engine.connect() as connection:
            connection.execute(budget_holds.delete())  # a previous run's turns are over, whatever they held
            connection.commit()

    def close(self) -> None:
        self.engine.dispose()

    async def ping(self) -> None:
        await self._run(lambda c: c.execute(select(1)).scalar())

    async def _run(self, work: Callable[[Connection], T]) -> T:
        def in_thread() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        return await asyncio.to_thread(in_thread)

    async def shared_secret(self, name: str) -> bytes:
        """Inserted unless there, then read, in one transaction: two starts at once keep one."""
        insert = secrets.insert().prefix_with("OR IGNORE").values(name=name, value=random.token_bytes(32))
        query = select(secrets.c.value).where(secrets.c.name == name)

        def work(connection: Connection) -> bytes:
            connection.execute(insert)
            return bytes(connection.execute(query).scalar_one())

        return await self._run(work)

    # --- keys ---------------------------------------------------------------------------------
    async def add_key(self, key: KeyRecord) -> None:
        row = _key_row(key)
        await self._run(lambda c: c.execute(keys.insert().values(**row)))

    async def find_key(self, digest: str) -> KeyRecord | None:
        query = select(keys).where(keys.c.digest == digest, keys.c.revoked.is_(None))
        return await self._run(lambda c: _one_key(c.execute(query).first()))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        query = select(keys).where(keys.c.id == key_id, keys.c.revoked.is_(None))
        return await self._run(lambda c: _one_key(c.execute(query).first()))

    async def list_keys(self) -> list[KeyRecord]:
        query = select(keys).where(keys.c.revoked.is_(None)).order_by(keys.c.created)
        return await self._run(lambda c: [_key(row) for row in c.execute(query)])

    async def update_key(self, key: KeyRecord) -> None:
        """Change a live key (a revoked one stays revoked, even if revoked since it was read)."""
        row = {name: value for name, value in _key_row(key).items() if name != "revoked"}
        statement = keys.update().where(keys.c.id == key.id, keys.c.revoked.is_(None)).values(**row)
        await self._run(lambda c: c.execute(statement))

    async def revoke_key(self, key_id: str, at: float) -> bool:
        live = keys.c.id == key_id, keys.c.revoked.is_(None)
        statement = keys.update().where(*live).values(revoked=at, credential=None)
        return await self._run(lambda c: c.execute(statement).rowcount > 0)

    # --- stored responses ---------------------------------------------------------------------
    async def put_response(self, record: ResponseRecord) -> None:
        messages = None if record.messages is None else json.dumps(record.messages)
        row = {**vars(record), "messages": messages, "response": json.dumps(record.response)}
        await self._run(lambda c: c.execute(responses.insert().prefix_with("OR REPLACE").values(**row)))

    async def get_response(self, response_id: str) -> ResponseRecord | None:
        query = select(responses).where(responses.c.id == response_id)

        def read(connection: Connection) -> ResponseRecord | None:
            row = connection.execute(query).first()
            if row is None:
                return None
            values = row._asdict()
            values["messages"] = None if values["messages"] is None else json.loads(values["messages"])
            values["response"] = json.loads(values["response"])
            return ResponseRecord(**values)

        return await self._run(read)

    async def delete_response(self, response_id: str) -> None:
        await self._run(lambda c: c.execute(responses.delete().where(responses.c.id == response_id)))

    async def forget_session(self, session: str) -> None:
        statement = responses.update().where(responses.c.session == session).values(messages=None)
        await self._run(lambda c: c.execute(statement))

    async def delete_tenant_responses(self, tenant: str) -> None:
        await self._run(lambda c: c.execute(responses.delete().where(responses.c.tenant == tenant)))

    async def expire_responses(self, before: float) -> None:
        await self._run(lambda c: c.execute(responses.delete().where(responses.c.stored_at < before)))

    # --- the ledger ---------------------------------------------------------------------------
    async def record(self, entry: UsageEntry, holds: Sequence[str] = ()) -> None:
        row = {**vars(entry), "day": time.strftime("%Y-%m-%d", time.gmtime(entry.at))}

        def write(connection: Connection) -> None:
            connection.execute(usage.insert().values(**row))
            if holds:
                connection.execute(budget_holds.delete().where(budget_holds.c.id.in_(list(holds))))

        await self._run(write)

    async def reserve(self, reservation: Reservation) -> Reserved:
        """In one write transaction taken at once (BEGIN IMMEDIATE): two reservations never both
        read the same remainder."""
        tenant, now = reservation.tenant, time.time()
        held_query = select(func.count(), func.coalesce(func.sum(budget_holds.c.cost_usd), 0.0))
        held_query = held_query.add_columns(func.coalesce(func.sum(budget_holds.c.tokens), 0))
        held_query = held_query.where(budget_holds.c.tenant == tenant)

        def work(connection: Connection) -> Reserved:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.execute(budget_holds.delete().where(budget_holds.c.expires < now))
            spent = _spent(connection, tenant, reservation.since)
            count, cost, tokens = connection.execute(held_query).one()
            held = Spent(float(cost), int(tokens))
            admitted = admits(reservation, spent, held, int(count))
            if admitted:
                each, expires = reservation.each, now + reservation.lease
                rows = [
                    {"id": i, "tenant": tenant, "cost_usd": each.cost_usd, "tokens": each.tokens}
                    for i in reservation.ids
                ]
                connection.execute(budget_holds.insert(), [{**row, "expires": expires} for row in rows])
            return Reserved(admitted, spent, held, int(count))

        return await self._run(work)

    async def release(self, tenant: str, holds: Sequence[str]) -> None:
        statement = budget_holds.delete().where(budget_holds.c.tenant == tenant, budget_holds.c.id.in_(list(holds)))
        await self._run(lambda c: c.execute(statement))

    async def failures(self, limit: int) -> list[UsageEntry]:
        query = select(usage).where(usage.c.status == "error").order_by(usage.c.at.desc()).limit(limit)
        return await self._run(lambda c: [_entry(row) for row in c.execute(query)])

    async def spent(self, tenant: str, since: float) -> Spent:
        return await self._run(lambda c: _spent(c, tenant, since))

    async def usage(
        self, start: float, end: float, tenant: str | None = None, key_id: str | None = None
    ) -> list[UsageTotal]:
        groups = (usage.c.tenant, usage.c.key_id, usage.c.day, usage.c.model)
        sums = [func.sum(getattr(usage.c, name)) for name in _SUMMED]
        query = select(*groups, func.count(), *sums).where(usage.c.at >= start, usage.c.at < end)
        if tenant is not None:
            query = query.where(usage.c.tenant == tenant)
        if key_id is not None:
            query = query.where(usage.c.key_id == key_id)
        query = query.group_by(*groups).order_by(usage.c.day, usage.c.tenant, usage.c.model)
        return await self._run(lambda c: [UsageTotal(*row) for row in c.execute(query)])

    async def buckets(self, start: float, end: float, width: int) -> list[BucketTotal]:
        """Rows answer any width: each turn's bucket is `at` rounded down to a multiple of it."""
        first, last = bucket_span(start, end, width)
        bucket = cast(usage.c.at / width, Integer) * width
        prompt = usage.c.input_tokens + usage.c.cache_read_input_tokens + usage.c.cache_creation_input_tokens
        tier = case((usage.c.door == "batch", literal("batch")), else_=literal("standard"))
        window = case((prompt > LONG_CONTEXT, literal("200k-1M")), else_=literal("0-200k"))
        groups = (bucket, usage.c.tenant, usage.c.key_id, usage.c.model, tier, window)
        sums = [func.sum(getattr(usage.c, name)) for name in _SUMMED]
        query = (
            select(*groups, func.count(), *sums)
            .where(usage.c.at >= first, usage.c.at < last)
            .group_by(*groups)
            .order_by(bucket)
        )
        return await self._run(lambda c: [BucketTotal(*row) for row in c.execute(query)])


def _spent(connection: Connection, tenant: str, since: float) -> Spent:
    tokens = usage.c.input_tokens + usage.c.output_tokens
    tokens = tokens + usage.c.cache_read_input_tokens + usage.c.cache_creation_input_tokens
    query = select(func.coalesce(func.sum(usage.c.cost_usd), 0.0), func.coalesce(func.sum(tokens), 0)).where(
        usage.c.tenant == tenant, usage.c.at >= since
    )
    cost, used = connection.execute(query).one()
    return Spent(float(cost), int(used))


# What UsageTotal and BucketTotal sum, in their fields' order (after the groups and `requests`).
_SUMMED = (
    *TOKENS,
    "cost_usd",
    *HOSTED_COUNTS,
)


def _pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _key_row(key: KeyRecord) -> dict[str, Any]:
    return {**vars(key), "policy": json.dumps(key.policy, sort_keys=True)}


def _key(row: Row[Any]) -> KeyRecord:
    values = dict(row._mapping)
    return KeyRecord(**{**values, "policy": json.loads(values["policy"])})


def _entry(row: Row[Any]) -> UsageEntry:
    values = dict(row._mapping)
    return UsageEntry(**{name: values[name] for name in UsageEntry.__dataclass_fields__})


def _one_key(row: Row[Any] | None) -> KeyRecord | None:
    return None if row is None else _key(row)
