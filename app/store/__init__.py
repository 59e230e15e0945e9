"""What must outlive a gateway process: API keys with their policies, the usage ledger, and
stored Responses API responses.

Everything else talks to `Store` (base.py); `SqliteStore` (sqlite.py) is the embedded default,
`RedisStore` (redis.py) the shared one for replicas (GATEWAY_REDIS_URL).
"""

from __future__ import annotations

from pathlib import Path

from ..core.redis import RedisLink
from .base import (
    HOSTED_CALLS,
    HOSTED_COUNTS,
    TOKENS,
    BucketTotal,
    BucketWidthUnsupported,
    KeyRecord,
    Reservation,
    Reserved,
    ResponseRecord,
    Spent,
    Store,
    UsageEntry,
    UsageTotal,
)
from .redis import RedisStore
from .sqlite import SqliteStore, open_sqlite


def open_store(data_dir: Path, shared: RedisLink | None = None, response_ttl: float | None = None) -> Store:
    """The shared store when there is a Redis (`shared`), else the SQLite one in `data_dir`.
    `response_ttl`: how long Redis keeps a stored response (SQLite relies on expire_responses)."""
    if shared is not None:
        return RedisStore(shared, response_ttl)
    return open_sqlite(data_dir)


__all__ = [
    "HOSTED_CALLS",
    "HOSTED_COUNTS",
    "TOKENS",
    "BucketTotal",
    "BucketWidthUnsupported",
    "KeyRecord",
    "Reservation",
    "Reserved",
    "ResponseRecord",
    "Spent",
    "Store",
    "UsageEntry",
    "UsageTotal",
    "RedisStore",
    "SqliteStore",
    "open_sqlite",
    "open_store",
]
