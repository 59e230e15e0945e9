"""The one Redis connection of a gateway process, and the names of its keys.

Every piece of state that replicas share (the `redis.py` module beside each store-backed feature)
takes a `RedisLink`: the asyncio client (one connection pool per process) and `key()`, which puts
the operator's prefix in front of every key, so that several gateways (or other programs) can share
one Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar, cast

import redis.asyncio as redis

T = TypeVar("T")


def reply(call: Awaitable[T] | T) -> Awaitable[T]:
    """A command of the asyncio client, typed as what it is (redis-py types its commands as
    either a reply or an awaitable of one, for its sync and async clients at once)."""
    return cast("Awaitable[T]", call)


@dataclass
class RedisLink:
    client: redis.Redis
    prefix: str = "claude-gateway:"

    @classmethod
    def connect(cls, url: str, prefix: str = "claude-gateway:") -> RedisLink:
        """A client for `url`; it connects on first use, inside the running event loop."""
        client = redis.Redis.from_url(
            url, decode_responses=False, health_check_interval=30, socket_timeout=5, socket_connect_timeout=3
        )
        return cls(client, prefix)

    def key(self, *parts: str) -> str:
        """`prefix` + the parts joined by ':' (a part may hold ':' itself; keys are never parsed)."""
        return self.prefix + ":".join(parts)

    async def close(self) -> None:
        await self.client.aclose()
