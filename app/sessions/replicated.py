"""Sessions every replica sees: the SessionKeeper (base.py) of a gateway with Redis
(`GATEWAY_REDIS_URL`).

Redis holds each session between turns (redis.py). A replica runs a turn on its registry's copy
(registry.py), held by its own asyncio lock and by the session's lock in Redis (redis_lock.py),
brought up to date from Redis once held (`pull`), and written back when the turn ends (`share`),
before the client sees its last event. Redis, not the registry, counts a key's sessions (`admit`),
and a key's limits count in Redis too (`counters`). A replica that deletes a session, or revokes a
key, announces it; the others end their copies (and so the processes) at once (`listen`).
"""

from __future__ import annotations

import sys

from redis.exceptions import RedisError

from ..core.errors import session_busy, session_exists, session_not_found, store_unavailable
from ..core.turn import Turn
from ..tenancy.counters import Counters
from ..tenancy.redis_counters import RedisCounters
from .locks import acquire_within
from .memory import MemoryKeeper
from .redis import RedisSessions
from .registry import SessionRegistry
from .session import Session, continuation_points

# How long a resent history waits for the stateless session it continues while another replica
# finishes writing that session's last turn, before it starts a session of its own.
CONTINUATION_WAIT = 0.5


class RedisKeeper:
    def __init__(self, registry: SessionRegistry, redis: RedisSessions) -> None:
        self.registry = registry
        self.redis = redis
        self.here = MemoryKeeper(registry)  # this replica's copies, and their asyncio locks
        self.counters: Counters | None = RedisCounters(redis.shared)

    def registry_limit(self, limit: int | None) -> int | None:
        return sys.maxsize  # this replica's registry only holds copies of the sessions it ran lately

    # --- a session held for a turn --------------------------------------------------------------
    async def hold(self, session: Session, wait: float) -> None:
        """Held here, then in Redis, where this replica's copy is then brought up to date."""
        await self.here.hold(session, wait)
        try:
            if not await self.redis.locks.lock(session, wait):
                raise session_busy(session.id)
            self.registry.adopt(session, await self.redis.pull(session))
        except BaseException:
            await self.let_go(session)
            raise

    async def let_go(self, session: Session) -> None:
        await self.here.let_go(session)
        await self.redis.locks.unlock(session)

    async def continuation(self, turn: Turn, model: str, credential: str | None) -> Session | None:
        """Any replica's, from Redis."""
        points = continuation_points(turn.tenant, model, turn.system, turn.messages, credential)
        for point, session_id in await self.redis.continuations(points):
            session = self.registry.create(
                turn.tenant, model, turn.system, session_id, credential, sys.maxsize, stateless=True
            )
            if session.lock.locked() or not await self.redis.locks.lock(session, CONTINUATION_WAIT):
                continue  # busy: another request of that conversation runs (or a replica just let go)
            if not await acquire_within(session.lock, 0):
                await self.redis.locks.unlock(session)  # taken here meanwhile
                continue
            try:
                truth = await self.redis.pull(session)
                self.registry.adopt(session, truth)
                if truth is None:  # expired: listed no more
                    await self.redis.unlist(point, session_id)
            except BaseException:
                await self.let_go(session)
                raise
            if session.turns and not session.gone:
                return session
            await self.let_go(session)
        return None

    async def admit(self, session: Session, limit: int | None) -> None:
        if session.stored:  # not new: every replica knows it
            return
        try:
            await self.redis.make_room(session, limit or self.registry.max_per_tenant)
        except BaseException:
            await self.let_go(session)
            self.registry.end(session)
            raise

    async def share(self, session: Session) -> None:
        """Written to Redis, and let go there; if it was deleted meanwhile on another replica, it
        ends here too."""
        if session.gone:  # deleted during the turn (on this replica): nothing to bring back
            await self.redis.locks.unlock(session)
            return
        try:
            saved = await self.redis.save(session)
        except RedisError as exc:  # mid-stream: the door's failure event, not a broken stream
            raise store_unavailable() from exc  # the turn failed; the next one pulls what Redis has
        if not saved:
            self.registry.end(session)
        await self.redis.locks.unlock(session)

    # --- sessions as a client sees them --------------------------------------------------------
    async def lookup(self, tenant: str, session_id: str) -> Session:
        """As Redis has it, unless this replica is running its very first turn."""
        found = await self.redis.load(tenant, session_id)
        local = self.registry.local(tenant, session_id)
        if found is not None:
            return found
        if local is not None and local.stored and not local.lock.locked():
            self.registry.end(local)  # deleted or expired on another replica
        return self.registry.get(tenant, session_id)

    async def listed(self, tenant: str | None) -> list[Session]:
        return await self.redis.listed(tenant)

    async def delete(self, tenant: str, session_id: str) -> str:
        """On every replica."""
        uid = await self.redis.delete(tenant, session_id)
        local = self.registry.local(tenant, session_id)
        if local is not None and not local.gone:
            if uid is None and not local.stored:  # never shared: this replica's alone
                uid = self.registry.get(tenant, session_id).uid
            self.registry.end(local)
        if uid is None:
            raise session_not_found(session_id)
        return uid

    async def end_tenant(self, tenant: str) -> None:
        self.registry.end_tenant(tenant)
        await self.redis.delete_tenant(tenant)

    # --- a fork -----------------------------------------------------------------------------------
    def live(self, source: Session) -> bool:
        return not source.gone and bool(source.turns)  # a copy Redis no longer has came back empty

    async def claim_fork(self, target: Session, limit: int | None) -> None:
        if await self.redis.load(target.tenant, target.id) is not None:
            raise session_exists(target.id)  # another replica's
        await self.redis.make_room(target, limit or self.registry.max_per_tenant)
        if not await self.redis.save(target):
            raise session_exists(target.id)  # made meanwhile

    async def drop_fork(self, target: Session) -> None:
        await self.redis.delete(target.tenant, target.id)

    # --- news ----------------------------------------------------------------------------------
    async def listen(self) -> None:
        await self.redis.listen(self.ended_elsewhere)

    def ended_elsewhere(self, kind: str, tenant: str, session_id: str, uid: str) -> None:
        """A replica deleted a session, or revoked a tenant: end this replica's copies (and so
        their processes) now; one in a turn here ends when its turn lets go. A session made again
        under that name meanwhile (another uid) stays."""
        if kind == "tenant":
            self.registry.end_tenant(tenant)
            return
        local = self.registry.local(tenant, session_id)
        if local is not None and local.uid == uid and not local.lock.locked():
            self.registry.end(local)
