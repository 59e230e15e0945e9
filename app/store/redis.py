"""The shared store: keys, the usage ledger and stored responses in Redis, so that every replica
of a gateway sees the same (GATEWAY_REDIS_URL; app/core/redis.py gives the client and prefix P).

    P key:<id>               hash: a key's record (fields absent for None; policy as JSON)
    P key-digest:<digest>    string: the id of the key with that digest (revoked ones too: a digest
                             is unique for good, as in SQLite)
    P keys                   zset: the live keys' ids, scored by `created` (list_keys' order)
    P resp:<id>              hash: a stored response (`messages` absent once its session is gone)
    P resp-session:<uid>     set: the ids of the responses a session served (forget_session)
    P resp-stored            zset: response ids by stored_at (expire_responses: no scan)
    P secret:<name>          string: a random key made once (shared_secret), kept without expiry
    P ledger:*               the usage ledger's counters (redis_ledger.py)

Every write that touches more than one key is one Lua script (a key's record and its digest index,
a response and its indexes), so that a replica never sees half of it. Scripts name only their
first keys in KEYS and build the rest from the prefix: fine for one Redis (or Sentinel), not for
Redis Cluster.

A stored response also gets a Redis expiry of `response_ttl` (GATEWAY_SESSION_TTL) from when it
was written, a backstop should every replica's sweep stop; expire_responses (each sweep) is the
exact one, and ResponseStore checks `stored_at` on every read anyway.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import replace
from typing import Any

from redis.exceptions import ResponseError

from ..core.redis import RedisLink, reply
from .base import KeyRecord, ResponseRecord
from .redis_ledger import RedisLedger

ADD_KEY = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('a key with this id exists') end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return redis.error_reply('a key with this digest exists') end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[3] == '' then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) end
return 1
"""
# KEYS: record, live zset, new digest index; ARGV: id, created, digest, digest index prefix, fields...
UPDATE_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
local old = redis.call('HGET', KEYS[1], 'digest')
if old ~= ARGV[3] then
  if not redis.call('SET', KEYS[3], ARGV[1], 'NX') then return redis.error_reply('a key with this digest exists') end
  redis.call('DEL', ARGV[4] .. old)
end
redis.call('HDEL', KEYS[1], 'credential')
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1])
return 1
"""
REVOKE_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', ARGV[2])
redis.call('HDEL', KEYS[1], 'credential')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
FIND_KEY = """
local id = redis.call('GET', KEYS[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[1] .. id)
"""
# KEYS: record, stored zset[, session set]; ARGV: id, stored_at, ttl (0: none), session set prefix, fields...
PUT_RESPONSE = """
local old = redis.call('HGET', KEYS[1], 'session')
if old then redis.call('SREM', ARGV[4] .. old, ARGV[1]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
if #KEYS == 3 then
  redis.call('SADD', KEYS[3], ARGV[1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
end
return 1
"""
# KEYS: stored zset; ARGV: response prefix, session set prefix, then the ids to drop
DROP_RESPONSES = """
for i = 3, #ARGV do
  local session = redis.call('HGET', ARGV[1] .. ARGV[i], 'session')
  if session then redis.call('SREM', ARGV[2] .. session, ARGV[i]) end
  redis.call('DEL', ARGV[1] .. ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return #ARGV - 2
"""
FORGET_SESSION = """
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('HDEL', ARGV[1] .. id, 'messages') end
redis.call('DEL', KEYS[1])
return 1
"""
EXPIRE_BATCH = 500  # responses dropped per script call, so that one call never holds Redis long


class RedisStore(RedisLedger):
    def __init__(self, shared: RedisLink, response_ttl: float | None = None) -> None:
        super().__init__(shared)
        self.response_ttl = response_ttl
        scripts = ADD_KEY, UPDATE_KEY, REVOKE_KEY, FIND_KEY, PUT_RESPONSE, DROP_RESPONSES, FORGET_SESSION
        register = self.redis.register_script
        self._add, self._update, self._revoke, self._find, self._put, self._drop, self._forget = map(register, scripts)

    def close(self) -> None:
        """Nothing: the client is the process's `RedisLink`, which the app closes after the store."""

    async def ping(self) -> None:
        await reply(self.redis.ping())

    async def shared_secret(self, name: str) -> bytes:
        """SET NX, then GET: the first replica's bytes win, every replica reads those."""
        key = self.shared.key("secret", name)
        await self.redis.set(key, secrets.token_bytes(32), nx=True)
        value = await self.redis.get(key)
        if value is None:  # deleted by hand between the two calls
            raise RuntimeError(f"the shared secret {key} vanished; retry")
        return bytes(value)

    # --- keys ---------------------------------------------------------------------------------
    async def add_key(self, key: KeyRecord) -> None:
        keys = [self._key(key.id), self.shared.key("key-digest", key.digest), self.shared.key("keys")]
        try:
            await self._add(keys, [key.id, repr(key.created), _text(key.revoked), *_key_fields(key)])
        except ResponseError as exc:
            raise ValueError(str(exc)) from None

    async def find_key(self, digest: str) -> KeyRecord | None:
        fields = await self._find([self.shared.key("key-digest", digest)], [self.shared.key("key", "")])
        key = _key_record(_pairs(fields))
        return key if key is not None and key.revoked is None and key.digest == digest else None

    async def get_key(self, key_id: str) -> KeyRecord | None:
        key = _key_record(await reply(self.redis.hgetall(self._key(key_id))))
        return key if key is not None and key.revoked is None else None

    async def list_keys(self) -> list[KeyRecord]:
        ids = await self.redis.zrange(self.shared.key("keys"), 0, -1)
        pipe = self.redis.pipeline(transaction=False)
        for key_id in ids:
            pipe.hgetall(self._key(key_id.decode()))
        records = [_key_record(fields) for fields in await pipe.execute()]
        return [key for key in records if key is not None and key.revoked is None]

    async def update_key(self, key: KeyRecord) -> None:
        """Change a live key (a revoked one stays revoked: use revoke_key to revoke)."""
        keys = [self._key(key.id), self.shared.key("keys"), self.shared.key("key-digest", key.digest)]
        fields = _key_fields(replace(key, revoked=None))
        argv = [key.id, repr(key.created), key.digest, self.shared.key("key-digest", ""), *fields]
        try:
            await self._update(keys, argv)
        except ResponseError as exc:
            raise ValueError(str(exc)) from None

    async def revoke_key(self, key_id: str, at: float) -> bool:
        return bool(await self._revoke([self._key(key_id), self.shared.key("keys")], [key_id, repr(at)]))

    def _key(self, key_id: str) -> str:
        return self.shared.key("key", key_id)

    # --- stored responses ---------------------------------------------------------------------
    async def put_response(self, record: ResponseRecord) -> None:
        keys = [self._response(record.id), self.shared.key("resp-stored")]
        if record.session is not None:
            keys.append(self.shared.key("resp-session", record.session))
        ttl = 0 if self.response_ttl is None else math.ceil(self.response_ttl) + 1
        fields = {
            **vars(record),
            "messages": None if record.messages is None else json.dumps(record.messages),
            "response": json.dumps(record.response),
            "stored_at": repr(record.stored_at),
        }
        head = [record.id, repr(record.stored_at), str(ttl), self.shared.key("resp-session", "")]
        await self._put(keys, head + _flat(fields))

    async def get_response(self, response_id: str) -> ResponseRecord | None:
        raw = await reply(self.redis.hgetall(self._response(response_id)))
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if not fields:
            return None
        return ResponseRecord(
            id=fields["id"],
            tenant=fields["tenant"],
            previous_id=fields.get("previous_id"),
            system=fields.get("system"),
            messages=json.loads(fields["messages"]) if "messages" in fields else None,
            response=json.loads(fields["response"]),
            stored_at=float(fields["stored_at"]),
            session=fields.get("session"),
        )

    async def delete_response(self, response_id: str) -> None:
        await self._drop_responses([response_id])

    async def forget_session(self, session: str) -> None:
        await self._forget([self.shared.key("resp-session", session)], [self._response("")])

    async def delete_tenant_responses(self, tenant: str) -> None:
        """A walk over every stored response (their zset, a page at a time), reading each one's
        tenant: no index by tenant is kept for a rare admin action."""
        stored, start = self.shared.key("resp-stored"), 0
        while True:
            ids = [i.decode() for i in await self.redis.zrange(stored, start, start + EXPIRE_BATCH - 1)]
            pipe = self.redis.pipeline(transaction=False)
            for response_id in ids:
                pipe.hget(self._response(response_id), "tenant")
            owners = await pipe.execute()
            theirs = [i for i, owner in zip(ids, owners, strict=True) if owner == tenant.encode()]
            if theirs:
                await self._drop_responses(theirs)
            if len(ids) < EXPIRE_BATCH:
                return
            start += EXPIRE_BATCH - len(theirs)

    async def expire_responses(self, before: float) -> None:
        stored = self.shared.key("resp-stored")
        while True:
            ids = await self.redis.zrangebyscore(stored, "-inf", f"({before!r}", start=0, num=EXPIRE_BATCH)
            if ids:
                await self._drop_responses([i.decode() for i in ids])
            if len(ids) < EXPIRE_BATCH:
                return

    async def _drop_responses(self, ids: list[str]) -> None:
        prefixes = [self._response(""), self.shared.key("resp-session", "")]
        await self._drop([self.shared.key("resp-stored")], prefixes + ids)

    def _response(self, response_id: str) -> str:
        return self.shared.key("resp", response_id)


def _text(value: float | None) -> str:
    return "" if value is None else repr(value)


def _flat(fields: dict[str, Any]) -> list[str]:
    """A hash's fields as HSET's arguments; a None is left out (read back as None)."""
    return [part for name, value in fields.items() if value is not None for part in (name, str(value))]


def _key_fields(key: KeyRecord) -> list[str]:
    fields = {**vars(key), "policy": json.dumps(key.policy, sort_keys=True)}
    fields["created"], fields["revoked"] = repr(key.created), None if key.revoked is None else repr(key.revoked)
    return _flat(fields)


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _key_record(raw: dict[bytes, bytes]) -> KeyRecord | None:
    if not raw:
        return None
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    revoked = fields.get("revoked")
    return KeyRecord(
        id=fields["id"],
        name=fields["name"],
        digest=fields["digest"],
        policy=json.loads(fields["policy"]),
        created=float(fields["created"]),
        credential=fields.get("credential"),
        revoked=None if revoked is None else float(revoked),
    )
