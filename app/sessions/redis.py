"""Sessions in Redis, so that any replica can run any session's next turn (`GATEWAY_REDIS_URL`).

Each replica still runs a turn on a `Session` object of its own registry (registry.py; the two are
held together by replicated.py); Redis holds the truth between turns, and a replica brings its
object up to date under the session's lock before every turn (`pull`), and writes the turn back
when it ends (`save`), before the client sees its last event. Keys (after the operator's prefix):

- `session:<tenant>:<id>`: a hash: `uid`, and `meta` (JSON: model, system, times, turns, user,
  metadata, credential id, where it is listed as a continuation, message count, last chain hash);
- `messages:<tenant>:<id>`: a list, one JSON per message with its chain hash; a session only grows,
  so a turn appends its messages, and a replica that saw the first n fetches only the rest;
- `sessions:<tenant>` and `sessions`: sorted sets of live ids by last use (listing, the admin's too);
- `continuation:<digest>`: the stateless sessions whose served history has that chain hash (per
  tenant, model, system prompt and credential), which a client resending its history continues;
- `lock:<tenant>:<id>`: the session's turn lock (redis_lock.py).

Everything expires with the session TTL, refreshed by each turn. A turn's save is refused when the
session was deleted (or replaced) meanwhile on another replica: the turn's answer stands, the
session stays deleted. This needs one Redis (or a primary with replicas/Sentinel), not a Cluster:
a save touches several keys in one script.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from ..core.errors import too_many_sessions
from ..core.redis import RedisLink, reply
from .redis_lock import SessionLocks
from .redis_records import message_of, meta_of, session_of
from .session import Session

log = logging.getLogger(__name__)

SEP = "\x1f"

_SAVE = """
local current = redis.call('HGET', KEYS[1], 'uid')
local stored = tonumber(ARGV[2])
if current then
  if current ~= ARGV[1] then return 0 end
  if redis.call('LLEN', KEYS[2]) ~= stored then return -1 end
elseif stored > 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'meta', ARGV[3])
for i = 11, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[10])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[6])
if ARGV[8] == '1' then redis.call('SREM', KEYS[5], ARGV[7]) end
if ARGV[9] == '1' then
  redis.call('SADD', KEYS[6], ARGV[7])
  redis.call('PEXPIRE', KEYS[6], ARGV[4])
end
return 1
"""


class RedisSessions:
    def __init__(self, shared: RedisLink, ttl: float) -> None:
        self.shared = shared
        self.client = shared.client
        self.ttl = ttl
        self._save = self.client.register_script(_SAVE)
        self.locks = SessionLocks(shared)

    # --- keys ---------------------------------------------------------------------------------
    def _record(self, tenant: str, session_id: str) -> tuple[str, str]:
        return self.shared.key("session", tenant, session_id), self.shared.key("messages", tenant, session_id)

    def _continuation(self, parts: tuple[str, ...]) -> str:
        return self.shared.key("continuation", hashlib.sha256(SEP.join(parts).encode()).hexdigest())

    async def _meta(self, record: str) -> dict[str, Any] | None:
        """A session record's `meta` (None: Redis has no such session)."""
        raw = await reply(self.client.hget(record, "meta"))
        return json.loads(raw) if raw is not None else None

    # --- reading ------------------------------------------------------------------------------
    async def pull(self, session: Session) -> Session | None:
        """The session as Redis has it, reading only the messages `session` lacks when it is an
        older copy of the same one; None if Redis has no such session."""
        record, messages = self._record(session.tenant, session.id)
        meta = await self._meta(record)
        if meta is None:
            return None
        have = len(session.messages)
        if meta["uid"] == session.uid and meta["length"] >= have:
            if meta["length"] == have and meta["last_hash"] == (session.hashes[-1] if have else ""):
                return session_of(meta, list(session.messages), list(session.hashes))
            start = max(0, have - 1)
            entries = [json.loads(e) for e in await reply(self.client.lrange(messages, start, -1))]
            joins = not have or (entries and entries[0]["hash"] == session.hashes[-1])
            if entries and len(entries) == meta["length"] - start and joins:
                fresh = entries[1:] if have else entries
                return session_of(
                    meta,
                    [*session.messages, *(message_of(e) for e in fresh)],
                    [*session.hashes, *(e["hash"] for e in fresh)],
                )
        return await self.load(session.tenant, session.id)

    async def load(self, tenant: str, session_id: str) -> Session | None:
        """The whole session as Redis has it (None if it has none)."""
        record, messages = self._record(tenant, session_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hget(record, "meta")
            pipe.lrange(messages, 0, -1)
            raw, entries = await pipe.execute()
        if raw is None:
            return None
        decoded = [json.loads(e) for e in entries]
        return session_of(json.loads(raw), [message_of(e) for e in decoded], [e["hash"] for e in decoded])

    async def continuations(self, parts: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], str]]:
        """The stateless sessions listed at each of `parts` (continuation keys, longest history
        first), in that order: (where it is listed, its id) each."""
        if not parts:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for key in parts:
                pipe.smembers(self._continuation(key))
            found = await pipe.execute()
        return [(key, member.decode()) for key, members in zip(parts, found, strict=True) for member in sorted(members)]

    async def unlist(self, part: tuple[str, ...], session_id: str) -> None:
        """Take a session that expired off the continuation list it was left on."""
        await reply(self.client.srem(self._continuation(part), session_id))

    async def listed(self, tenant: str | None) -> list[Session]:
        """The live sessions of `tenant` (every tenant's for None), without their messages."""
        now = time.time()
        index = self.shared.key("sessions", tenant) if tenant is not None else self.shared.key("sessions")
        await self.client.zremrangebyscore(index, "-inf", now - self.ttl)
        members = [m.decode() for m in await self.client.zrange(index, 0, -1)]
        pairs = [(tenant, m) if tenant is not None else tuple(m.split(SEP, 1)) for m in members]
        async with self.client.pipeline(transaction=False) as pipe:
            for owner, session_id in pairs:
                pipe.hget(self._record(owner, session_id)[0], "meta")
            metas = await pipe.execute()
        return [session_of(json.loads(raw), [], []) for raw in metas if raw is not None]

    # --- writing ------------------------------------------------------------------------------
    async def save(self, session: Session) -> bool:
        """Write the turn that just ended on `session` (its messages past `session.stored`); False
        if the session was deleted or replaced meanwhile, elsewhere."""
        record, messages = self._record(session.tenant, session.id)
        meta = meta_of(session)
        old, new = session.listed, session.continuation_key
        meta["continuation"] = list(new) if new else None
        fresh = [
            json.dumps({"role": m.role, "content": m.content, "hash": h}, ensure_ascii=False)
            for m, h in zip(session.messages[session.stored :], session.hashes[session.stored :], strict=True)
        ]
        keys = [
            record,
            messages,
            self.shared.key("sessions", session.tenant),
            self.shared.key("sessions"),
            self._continuation(old) if old else record,
            self._continuation(new) if new else record,
        ]
        args: list[Any] = [
            session.uid,
            session.stored,
            json.dumps(meta, ensure_ascii=False),
            int(self.ttl * 1000),
            session.last_used,
            f"{session.tenant}{SEP}{session.id}",
            session.id,
            "1" if old and old != new else "0",
            "1" if new else "0",
            session.last_used - self.ttl,  # listed sessions idle for longer have expired
            *fresh,
        ]
        if await self._save(keys=keys, args=args) != 1:
            return False
        session.stored, session.listed = len(session.messages), new
        return True

    async def delete(self, tenant: str, session_id: str) -> str | None:
        """Delete the session; its uid, or None if Redis had no such session."""
        record, messages = self._record(tenant, session_id)
        meta = await self._meta(record)
        if meta is None:
            return None
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(record, messages)
            pipe.zrem(self.shared.key("sessions", tenant), session_id)
            pipe.zrem(self.shared.key("sessions"), f"{tenant}{SEP}{session_id}")
            if meta.get("continuation"):
                pipe.srem(self._continuation(tuple(meta["continuation"])), session_id)
            await pipe.execute()
        await self.announce("session", tenant, session_id, meta["uid"])
        return str(meta["uid"])

    async def delete_tenant(self, tenant: str) -> None:
        """Delete every session of `tenant` (a revoked key)."""
        for member in await self.client.zrange(self.shared.key("sessions", tenant), 0, -1):
            await self.delete(tenant, member.decode())
        await self.announce("tenant", tenant)

    async def make_room(self, session: Session, limit: int) -> None:
        """Before `session`, a new one, starts: past the tenant's `limit` of sessions on every
        replica, its least recently used idle stateless sessions make room; if too few are, 429.
        (First turns under way on other replicas are not counted yet: a burst can pass the limit
        by as many.)"""
        index = self.shared.key("sessions", session.tenant)
        await self.client.zremrangebyscore(index, "-inf", time.time() - self.ttl)
        ids = [m.decode() for m in await self.client.zrange(index, 0, -1)]  # least recently used first
        excess = len(ids) - limit + 1
        if excess <= 0:
            return
        others = [i for i in ids if i != session.id]
        async with self.client.pipeline(transaction=False) as pipe:
            for session_id in others:
                pipe.hget(self._record(session.tenant, session_id)[0], "meta")
                pipe.exists(self.locks.key(session.tenant, session_id))
            found = await pipe.execute()
        idle = [
            session_id
            for session_id, raw, locked in zip(others, found[::2], found[1::2], strict=True)
            if raw is not None and json.loads(raw)["stateless"] and not locked
        ]
        if len(idle) < excess:
            raise too_many_sessions(limit)
        for session_id in idle[:excess]:
            await self.delete(session.tenant, session_id)

    # --- news for the other replicas ----------------------------------------------------------
    async def announce(self, kind: str, tenant: str, session_id: str = "", uid: str = "") -> None:
        """Tell every replica that a session (`kind` "session", that very one: `uid`) or all of a
        tenant's ("tenant") ended, so that they stop its processes now rather than when they idle out."""
        await reply(self.client.publish(self.shared.key("ended"), json.dumps([kind, tenant, session_id, uid])))

    async def listen(self, on_ended: Callable[[str, str, str, str], None]) -> None:
        """Call `on_ended(kind, tenant, session_id, uid)` for each announcement, forever (a task
        the app cancels at shutdown); subscribes again after Redis went away. It waits for news a
        second at a time: a blocking read would hit the client's socket timeout when all is quiet."""
        while True:
            try:
                async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.shared.key("ended"))
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            on_ended(*json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the Redis subscription to ended sessions; subscribing again", exc_info=True)
                await asyncio.sleep(1)
