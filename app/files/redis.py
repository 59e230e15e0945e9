"""Files in Redis (GATEWAY_REDIS_URL), so that a file uploaded through one replica is read through
any other. Under the operator's prefix P (app/core/redis.py):

    P file:<id>              hash: the record (expires_at absent for None)
    P file-data:<id>         string: the bytes
    P files:<tenant>         zset: the tenant's file ids, scored by upload order (the listing's)
    P files-used:<tenant>    string: the bytes the tenant's files take (the quota's count)
    P files-seq              string: the upload counter that orders the listings
    P files-expiring         zset: ids of files with an expiry, by expires_at (expire: no scan)
    P file-upload:<id>       string: an upload's bytes while they are sent, a piece at a time (so
                             that no whole copy sits in the gateway's memory); the add script
                             renames it to file-data:<id>, or drops it past the quota

Adding and deleting are one Lua script each (the quota check with the write; the record, bytes,
indexes and count together), so that no replica sees half a file or lets two uploads both pass a
quota. Scripts name their first keys in KEYS and build the rest from the prefix: fine for one
Redis (or Sentinel), not for Redis Cluster.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, BinaryIO

from ..core.redis import RedisLink, reply
from .base import CHUNK, Content, FileRecord, Files, Limits, Page, live, over_quota

# KEYS: record, data, tenant zset, used, seq, expiring[, staged upload]; ARGV: id, size, quota
# (-1: none), expires_at ('' none), data ('' when staged), fields...
ADD = """
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
local size = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
if quota >= 0 and used + size > quota then
  if KEYS[7] then redis.call('DEL', KEYS[7]) end
  return {0, used}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if KEYS[7] then
  redis.call('RENAME', KEYS[7], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[5])
end
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), ARGV[1])
redis.call('INCRBY', KEYS[4], size)
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1]) end
return {1, used}
"""
# KEYS: record, data, expiring; ARGV: id, tenant, tenant zset, used (the tenant's keys: known only
# once the record is read, for expire)
DELETE = """
local record = redis.call('HMGET', KEYS[1], 'tenant', 'size')
if not record[1] or (ARGV[2] ~= '' and record[1] ~= ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', ARGV[3] .. record[1], ARGV[1])
redis.call('DECRBY', ARGV[4] .. record[1], record[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""
PAGE = 200  # ids read per round while a listing fills
STAGED_FOR = 3600  # seconds an upload's staged bytes outlive a replica that died sending them


class RedisFiles(Files):
    def __init__(self, shared: RedisLink, limits: Limits) -> None:
        super().__init__(limits)
        self.shared = shared
        self.redis = shared.client
        self._add = self.redis.register_script(ADD)
        self._delete = self.redis.register_script(DELETE)

    def _record(self, file_id: str) -> str:
        return self.shared.key("file", file_id)

    def _data(self, file_id: str) -> str:
        return self.shared.key("file-data", file_id)

    def _index(self, tenant: str) -> str:
        return self.shared.key("files", tenant)

    async def _keep(self, record: FileRecord, data: Content, quota: bool) -> FileRecord:
        tenant, expires_at = record.tenant, record.expires_at
        keys = [
            self._record(record.id),
            self._data(record.id),
            self._index(tenant),
            self.shared.key("files-used", tenant),
            self.shared.key("files-seq"),
            self.shared.key("files-expiring"),
        ]
        others = await self._others(tenant) if quota else 0
        limit = max(self.limits.quota_bytes - others, 0) if quota else -1
        fields = [part for name, value in vars(record).items() if value is not None for part in (name, str(value))]
        expiry = "" if expires_at is None else repr(expires_at)
        if isinstance(data, bytes):
            done, used = await self._add(keys, [record.id, record.size, limit, expiry, data, *fields])
        else:
            staged = self.shared.key("file-upload", record.id)
            try:
                await self._stage(staged, data)
                done, used = await self._add([*keys, staged], [record.id, record.size, limit, expiry, "", *fields])
            except BaseException:
                await reply(self.redis.delete(staged))
                raise
        if not done:
            raise over_quota(int(used) + others, record.size, self.limits.quota_bytes)
        return record

    async def used(self, tenant: str) -> int:
        return int(await reply(self.redis.get(self.shared.key("files-used", tenant))) or 0)

    async def _stage(self, key: str, data: BinaryIO) -> None:
        """`data` into `key` a piece at a time (SET, then APPEND), read from its file in a thread."""
        await asyncio.to_thread(data.seek, 0)
        first = True
        while True:
            piece = await asyncio.to_thread(data.read, CHUNK)
            if first:
                await reply(self.redis.set(key, piece, ex=STAGED_FOR))
            elif piece:
                await reply(self.redis.append(key, piece))
            if not piece:
                return
            first = False

    async def get(self, tenant: str, file_id: str) -> FileRecord | None:
        raw = await reply(self.redis.hgetall(self._record(file_id)))
        record = _parse(raw)
        if record is None or record.tenant != tenant:
            return None
        return live(record, time.time())

    async def content(self, tenant: str, file_id: str) -> bytes | None:
        if await self.get(tenant, file_id) is None:
            return None
        data: bytes | None = await reply(self.redis.get(self._data(file_id)))
        return data

    async def _page(self, tenant: str, purpose: str | None, after: str | None, before: str | None, limit: int) -> Page:
        index = self._index(tenant)
        newest_first = before is None
        low, high = "-inf", "+inf"
        for cursor in (after, before):
            if cursor is None:
                continue
            score = await reply(self.redis.zscore(index, cursor))
            if score is None:
                return []  # an unknown cursor: nothing past it
            if cursor == after:
                high = f"({int(score)}"
            else:
                low = f"({int(score)}"
        found: list[FileRecord] = []
        now = time.time()
        while len(found) < limit:
            if newest_first:
                ids = await reply(self.redis.zrevrangebyscore(index, high, low, start=0, num=PAGE, withscores=True))
            else:
                ids = await reply(self.redis.zrangebyscore(index, low, high, start=0, num=PAGE, withscores=True))
            if not ids:
                break
            async with self.redis.pipeline(transaction=False) as pipe:
                for file_id, _ in ids:
                    pipe.hgetall(self._record(file_id.decode()))
                rows = await pipe.execute()
            for raw in rows:
                record = live(_parse(raw), now)
                if record is not None and record.tenant == tenant and purpose in (None, record.purpose):
                    found.append(record)
            last = int(ids[-1][1])
            if newest_first:
                high = f"({last}"
            else:
                low = f"({last}"
        return found[:limit]

    async def delete(self, tenant: str, file_id: str) -> bool:
        return bool(await self._remove(file_id, tenant))

    async def _remove(self, file_id: str, tenant: str) -> int:
        keys = [self._record(file_id), self._data(file_id), self.shared.key("files-expiring")]
        args = [file_id, tenant, self.shared.key("files", ""), self.shared.key("files-used", "")]
        return int(await self._delete(keys, args))

    async def expire(self, now: float) -> int:
        ids = await reply(self.redis.zrangebyscore(self.shared.key("files-expiring"), "-inf", now))
        dropped = 0
        for file_id in ids:
            dropped += await self._remove(file_id.decode(), "")
            await reply(self.redis.zrem(self.shared.key("files-expiring"), file_id))
        return dropped


def _parse(raw: dict[Any, Any] | None) -> FileRecord | None:
    if not raw:
        return None
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    expires = fields.get("expires_at")
    return FileRecord(
        id=fields["id"],
        tenant=fields["tenant"],
        filename=fields["filename"],
        purpose=fields["purpose"],
        media_type=fields["media_type"],
        size=int(fields["size"]),
        created=float(fields["created"]),
        expires_at=float(expires) if expires else None,
    )
