"""Files in the gateway's own SQLite database (the `files` table, schema v4): nothing extra to run.

The bytes sit in the same row as the record; listings select the record's columns only. An
upload's file is written into its row a piece at a time (SQLite's incremental blob I/O on a
zeroblob of its size), so that no whole copy of it is held in memory: four concurrent 31 MB
uploads once took the gateway from 124 to 798 MB. Uploads take turns (one lock; one process owns
the database) so that two of one tenant cannot both pass its quota.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from sqlalchemy import Connection, Engine, ScalarSelect, delete, func, select
from sqlalchemy.engine import Row

from ..store.schema import files
from .base import Content, FileRecord, Files, Limits, Page, live, pieces

T = TypeVar("T")
FIELDS = ("id", "tenant", "filename", "purpose", "media_type", "size", "created", "expires_at")
RECORD = [files.c[name] for name in FIELDS]


class SqliteFiles(Files):
    def __init__(self, engine: Engine, limits: Limits) -> None:
        super().__init__(limits)
        self.engine = engine  # the store's (app/store/sqlite.py), already migrated
        self.adding = asyncio.Lock()

    async def _run(self, work: Callable[[Connection], T]) -> T:
        def in_thread() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        return await asyncio.to_thread(in_thread)

    async def _keep(self, record: FileRecord, data: Content, quota: bool) -> FileRecord:
        def write(connection: Connection, others: int) -> FileRecord:
            if quota:
                self.limits.check_quota(_used(connection, record.tenant, record.created) + others, record.size)
            if isinstance(data, bytes):
                connection.execute(files.insert().values(**vars(record), data=data))
            else:
                _write_blob(connection, record, data)
            return record

        async with self.adding:
            others = await self._others(record.tenant) if quota else 0
            return await self._run(lambda c: write(c, others))

    async def used(self, tenant: str) -> int:
        return await self._run(lambda c: _used(c, tenant, time.time()))

    async def get(self, tenant: str, file_id: str) -> FileRecord | None:
        query = select(*RECORD).where(files.c.tenant == tenant, files.c.id == file_id)
        row = await self._run(lambda c: c.execute(query).first())
        return live(_record(row), time.time()) if row is not None else None

    async def content(self, tenant: str, file_id: str) -> bytes | None:
        now = time.time()
        query = select(files.c.data).where(files.c.tenant == tenant, files.c.id == file_id)
        query = query.where((files.c.expires_at.is_(None)) | (files.c.expires_at > now))
        data = await self._run(lambda c: c.execute(query).scalar())
        return bytes(data) if data is not None else None

    async def _page(self, tenant: str, purpose: str | None, after: str | None, before: str | None, limit: int) -> Page:
        now = time.time()
        query = select(*RECORD).where(files.c.tenant == tenant)
        query = query.where((files.c.expires_at.is_(None)) | (files.c.expires_at > now))
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        if after is not None:  # older than that file; an unknown cursor: nothing after it
            query = query.where(files.c.seq < _seq(tenant, after))
        if before is not None:  # the `limit` nearest ones newer than `before`
            query = query.where(files.c.seq > _seq(tenant, before)).order_by(files.c.seq.asc())
        else:
            query = query.order_by(files.c.seq.desc())
        query = query.limit(limit)
        return await self._run(lambda c: [_record(row) for row in c.execute(query)])

    async def delete(self, tenant: str, file_id: str) -> bool:
        statement = delete(files).where(files.c.tenant == tenant, files.c.id == file_id)
        return await self._run(lambda c: c.execute(statement).rowcount > 0)

    async def expire(self, now: float) -> int:
        statement = delete(files).where(files.c.expires_at <= now)
        return await self._run(lambda c: c.execute(statement).rowcount)


def _seq(tenant: str, file_id: str) -> ScalarSelect[int]:
    """The listing position of a tenant's file, as a scalar subquery (NULL for an unknown id, which
    then matches nothing)."""
    return select(files.c.seq).where(files.c.tenant == tenant, files.c.id == file_id).scalar_subquery()


def _used(connection: Connection, tenant: str, now: float) -> int:
    query = select(func.coalesce(func.sum(files.c.size), 0)).where(
        files.c.tenant == tenant, (files.c.expires_at.is_(None)) | (files.c.expires_at > now)
    )
    return int(connection.execute(query).scalar() or 0)


def _write_blob(connection: Connection, record: FileRecord, data: BinaryIO) -> None:
    """A row for `record` with `data` written into a zeroblob of its size a piece at a time, in the
    connection's open transaction. Python 3.10's sqlite3 has no blob I/O: there the bytes are read
    whole (one copy, where reading the upload whole then parsing it made five)."""
    raw = connection.connection.driver_connection
    blobopen = getattr(raw, "blobopen", None)  # Python 3.11+
    if blobopen is None or record.size == 0:  # a blob of no bytes cannot be opened (nor needs it)
        connection.execute(files.insert().values(**vars(record), data=b"".join(pieces(data))))
        return
    inserted = connection.execute(files.insert().values(**vars(record), data=func.zeroblob(record.size)))
    assert inserted.inserted_primary_key is not None
    with blobopen("files", "data", inserted.inserted_primary_key[0]) as blob:
        for piece in pieces(data):
            blob.write(piece)


def _record(row: Row[tuple[object, ...]] | None) -> FileRecord:
    assert row is not None
    return FileRecord(**row._asdict())
