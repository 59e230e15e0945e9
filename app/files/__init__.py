"""Uploaded files: the OpenAI and Anthropic Files APIs' storage (base.py has the interface), the
file ids that messages reference, and both APIs' shapes of a file.

`open_files` picks the store: Redis when the gateway has one (replicas share files), else the
gateway's SQLite database.
"""

from __future__ import annotations

from ..core.redis import RedisLink
from ..core.settings import Settings
from ..store import SqliteStore, Store, open_sqlite
from .base import MB, FileRecord, Files, Limits
from .redis import RedisFiles
from .sqlite import SqliteFiles


def limits(settings: Settings) -> Limits:
    return Limits(settings.file_max_mb * MB, settings.files_quota_mb * MB)


def open_files(settings: Settings, store: Store, shared: RedisLink | None = None) -> Files:
    """Redis files with a Redis (`shared`); else SQLite, in the store's own database when the store
    is SQLite, or in a database of its own in the data folder."""
    if shared is not None:
        return RedisFiles(shared, limits(settings))
    sqlite = store if isinstance(store, SqliteStore) else open_sqlite(settings.data_path)
    return SqliteFiles(sqlite.engine, limits(settings))


__all__ = ["FileRecord", "Files", "Limits", "RedisFiles", "SqliteFiles", "limits", "open_files"]
