"""Sessions: conversations the gateway keeps, a turn inside one, and stored Responses.

`open_keeper` picks where sessions live between turns (base.py has the interface): in Redis when
the gateway has one (replicas share sessions), else in this process's registry alone.
"""

from __future__ import annotations

from ..core.redis import RedisLink
from .base import SessionKeeper
from .memory import MemoryKeeper
from .redis import RedisSessions
from .registry import SessionRegistry
from .replicated import RedisKeeper


def open_keeper(registry: SessionRegistry, shared: RedisLink | None, ttl: float) -> SessionKeeper:
    """RedisKeeper with a Redis (`shared`), sessions expiring after `ttl` seconds idle; else MemoryKeeper."""
    if shared is not None:
        return RedisKeeper(registry, RedisSessions(shared, ttl))
    return MemoryKeeper(registry)


__all__ = ["SessionKeeper", "open_keeper"]
