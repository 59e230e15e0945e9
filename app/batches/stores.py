"""Where batches are kept: the embedded SQLite store, or Redis when replicas share one."""

from __future__ import annotations

from typing import TypeAlias

from .redis import RedisBatchStore
from .sqlite import BatchStore

Storage: TypeAlias = BatchStore | RedisBatchStore

__all__ = ["BatchStore", "RedisBatchStore", "Storage"]
