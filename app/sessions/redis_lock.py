"""A session's turn lock across replicas: a Redis key `lock:<tenant>:<id>` holding a token, leased
for LEASE seconds and renewed while the turn runs, so that a replica that dies mid-turn holds it
for one lease at most. Taken on top of the replica's own asyncio lock (replicated.py)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field

from ..core.redis import RedisLink
from .session import Session

LEASE = 10.0  # seconds a turn lock lasts unless renewed; a dead replica's lock lapses after it
RENEW = LEASE / 3
POLL = 0.025  # seconds between tries for a lock another replica holds

_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass
class Lease:
    """A session's turn lock held in Redis, renewed in the background until released."""

    key: str
    token: str
    renewal: asyncio.Task[None] | None = field(default=None, repr=False)


class SessionLocks:
    def __init__(self, shared: RedisLink) -> None:
        self.shared = shared
        self.client = shared.client
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def key(self, tenant: str, session_id: str) -> str:
        return self.shared.key("lock", tenant, session_id)

    async def lock(self, session: Session, wait: float) -> bool:
        """Take the session's lock across replicas, waiting up to `wait` seconds; it is kept on
        `session.lease` and renewed until `unlock`."""
        key, token = self.key(session.tenant, session.id), secrets.token_hex(16)
        deadline = time.monotonic() + wait
        while not await self.client.set(key, token, nx=True, px=int(LEASE * 1000)):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL)
        lease = Lease(key, token)
        lease.renewal = asyncio.get_running_loop().create_task(self._keep(lease))
        session.lease = lease
        return True

    async def unlock(self, session: Session) -> None:
        """Let go of the session's lock (once; later calls do nothing)."""
        lease, session.lease = session.lease, None
        if lease is None:
            return
        if lease.renewal is not None:
            lease.renewal.cancel()
        with contextlib.suppress(Exception):  # unreachable Redis: the lease lapses by itself
            # Shielded: a turn cancelled as its client leaves still lets go at once.
            await asyncio.shield(self._release(keys=[lease.key], args=[lease.token]))

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(RENEW)
            with contextlib.suppress(Exception):
                await self._renew(keys=[lease.key], args=[lease.token, int(LEASE * 1000)])
