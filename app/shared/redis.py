"""The one Redis connection of a gateway process, and the names of its keys.

Every piece of shared state (app/store/redis_store.py, app/shared/*.py) takes a `Shared`: the
asyncio client (one connection pool per process) and `key()`, which puts the operator's prefix in
front of every key, so that several gateways (or other programs) can share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as redis


@dataclass
class Shared:
    client: redis.Redis
    prefix: str = "claude-gateway:"

    @classmethod
    def connect(cls, url: str, prefix: str = "claude-gateway:") -> Shared:
        """A client for `url`; it connects on first use, inside the running event loop."""
        client = redis.Redis.from_url(url, decode_responses=False, health_check_interval=30, socket_timeout=10)
        return cls(client, prefix)

    def key(self, *parts: str) -> str:
        """`prefix` + the parts joined by ':' (a part may hold ':' itself; keys are never parsed)."""
        return self.prefix + ":".join(parts)

    async def ping(self) -> None:
        await self.client.ping()  # type: ignore[misc]  # redis-py types sync and async results as one

    async def close(self) -> None:
        await self.client.aclose()
