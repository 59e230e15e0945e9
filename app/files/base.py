"""Uploaded files (the OpenAI and Anthropic Files APIs), one tenant's apart from another's.

`Files` is the one small interface both stores keep, with what they share (a new file's record,
the quota's other bytes): SqliteFiles (bytes in a table of the gateway's own database) and
RedisFiles (for replicas: a file uploaded through one is read through another) add only their
storage. Records are plain dataclasses; no database type leaks out of app/files/.
"""

from __future__ import annotations

import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..core.errors import GatewayError

MB = 1024 * 1024
Others = Callable[[str], Awaitable[int]]
CHUNK = MB  # what a store reads of an uploaded file at a time
# A file's bytes: an upload arrives as a file (spooled to disk as it was received, app/http/routes/files.py)
# that the store writes from, a piece at a time, so that no copy of the whole body sits in memory;
# the gateway's own files (batch output) are bytes.
Content = bytes | BinaryIO


@dataclass
class FileRecord:
    id: str  # "file_" + random
    tenant: str
    filename: str
    # OpenAI purposes ("batch", "user_data", "vision", "assistants"), "batch_output", or
    # "anthropic" for files uploaded through the Anthropic Files API shape
    purpose: str
    media_type: str
    size: int
    created: float
    expires_at: float | None = None


Page = list[FileRecord]  # one page of a listing (a name of its own: within Files, `list` is a method)


@dataclass(frozen=True)
class Limits:
    """GATEWAY_FILE_MAX_MB (one file) and GATEWAY_FILES_QUOTA_MB (one tenant's files together)."""

    max_file_bytes: int = 32 * MB
    quota_bytes: int = 256 * MB

    def check_size(self, size: int) -> None:
        if size > self.max_file_bytes:
            raise too_large(
                f"The file is {size} bytes; this gateway takes files of at most {self.max_file_bytes} bytes "
                "(GATEWAY_FILE_MAX_MB).",
                "file_too_large",
            )

    def check_quota(self, used: int, size: int) -> None:
        if used + size > self.quota_bytes:
            raise over_quota(used, size, self.quota_bytes)


class Files(ABC):
    """What both stores share: a new file's record (its size checked against the limit), the
    quota's other bytes (`others`) and `room`. A store adds only its storage: `_keep` and the
    abstract methods below."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # What else counts in a tenant's quota (its batches' stored results, app/batches/), in
        # bytes; set once, by the batches' Bounds (app/batches/bounds.py).
        self.others: Others | None = None

    async def add(
        self,
        tenant: str,
        filename: str,
        purpose: str,
        media_type: str,
        data: Content,
        *,
        quota: bool = True,
        expires_at: float | None = None,
    ) -> FileRecord:
        """Keep `data` (bytes, or a file read from its start) as a new file. With `quota`
        (uploads), a file over the size limit or past the tenant's quota is refused with a
        GatewayError 413; the gateway's own files (batch output) pass quota=False."""
        size = size_of(data)
        if quota:
            self.limits.check_size(size)
        record = FileRecord(new_file_id(), tenant, filename, purpose, media_type, size, time.time(), expires_at)
        return await self._keep(record, data, quota)

    @abstractmethod
    async def _keep(self, record: FileRecord, data: Content, quota: bool) -> FileRecord:
        """Store the new file `record` with its bytes; with `quota`, refuse it (413, over_quota)
        past the tenant's quota, checked atomically with the write."""

    async def _others(self, tenant: str) -> int:
        """The bytes besides its files that count in the tenant's quota (`others`)."""
        return await self.others(tenant) if self.others is not None else 0

    async def room(self, tenant: str, size: int) -> None:
        """Raise the quota's GatewayError 413 unless `size` more bytes fit in the tenant's quota: an
        upload is refused from its Content-Length, before its body is read. (`add` checks again,
        atomically with the write: two uploads may both pass this.)"""
        others = await self._others(tenant)
        self.limits.check_quota(await self.used(tenant) + others, size)

    @abstractmethod
    async def get(self, tenant: str, file_id: str) -> FileRecord | None: ...

    @abstractmethod
    async def used(self, tenant: str) -> int:
        """The bytes the tenant's files take (the quota's count; the batch output is `others`')."""

    @abstractmethod
    async def content(self, tenant: str, file_id: str) -> bytes | None: ...

    async def list(
        self,
        tenant: str,
        purpose: str | None = None,
        after: str | None = None,
        limit: int = 100,
        *,
        before: str | None = None,
    ) -> list[FileRecord]:
        """Newest first; `after`: only those older than that file (the next page), `before`: only
        those newer (the previous page, still newest first). An unknown cursor: nothing past it."""
        page = await self._page(tenant, purpose, after, before, limit)
        return page if before is None else page[::-1]

    @abstractmethod
    async def _page(self, tenant: str, purpose: str | None, after: str | None, before: str | None, limit: int) -> Page:
        """The `limit` live files of `list` nearest its cursor, going away from it: newest first,
        but with `before`, oldest first (the ones just newer than it; `list` turns them round)."""

    @abstractmethod
    async def delete(self, tenant: str, file_id: str) -> bool: ...

    @abstractmethod
    async def expire(self, now: float) -> int:
        """Drop the files whose `expires_at` has passed; how many."""


def size_of(data: Content) -> int:
    if isinstance(data, bytes):
        return len(data)
    size = data.seek(0, os.SEEK_END)
    data.seek(0)
    return size


def pieces(data: BinaryIO) -> Iterator[bytes]:
    """A file's bytes from its start, CHUNK at a time (blocking reads: call it in a thread)."""
    data.seek(0)
    while piece := data.read(CHUNK):
        yield piece


def too_large(message: str, code: str) -> GatewayError:
    return GatewayError(413, message, "invalid_request_error", code, "file")


def over_quota(used: int, size: int, quota: int) -> GatewayError:
    return too_large(
        f"This key's files and batch results take {used} bytes; {size} more would pass its quota of {quota} "
        "bytes (GATEWAY_FILES_QUOTA_MB). Delete some files or ended batches first.",
        "files_quota_exceeded",
    )


def new_file_id() -> str:
    return "file_" + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")


def live(record: FileRecord | None, now: float) -> FileRecord | None:
    """The record unless it has expired."""
    if record is None or (record.expires_at is not None and record.expires_at <= now):
        return None
    return record
