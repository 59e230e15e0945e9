"""Batches in Redis (GATEWAY_REDIS_URL), so that any replica finds, cancels and reads any batch,
and a batch whose replica died is adopted by another. Under the operator's prefix P:

    P batch:<id>              hash: the batch's fields, each JSON
    P batch-req:<id>          hash: idx -> {"custom_id", "params"} (JSON)
    P batch-state:<id>        hash: idx -> pending, succeeded, errored, canceled, expired
    P batch-result:<id>       hash: idx -> the result (JSON)
    P batch-pending:<id>      zset: the pending idxs, in order (scored by idx)
    P batch-counts:<id>       hash: state -> how many requests are in it
    P batch-bytes:<id>        string: the bytes its results take (the files quota counts them)
    P batches:<tenant>:<api>  zset: the tenant's batch ids, by creation
    P batches-open            set: the ids of batches not ended
    P batch-lease:<id>        string: the replica that runs the batch, for LEASE seconds

A request's end is one Lua script (its state only if still pending, its result, the counts), so a
cancel on one replica and a request's end on another never count a request twice. Scripts name
their keys in KEYS: fine for one Redis (or Sentinel), not for Redis Cluster.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.redis import RedisLink, reply
from .model import PENDING, Batch, BatchRequest, Outcome

APIS = ("anthropic", "openai")
SETTLE_PAGE = 1000  # requests settled a round trip
LEASE = 10.0  # seconds a replica's hold on a batch lasts unless renewed (every round renews it)

# KEYS: state, result, pending, counts, bytes; ARGV: idx, new state, result JSON
FINISH = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'pending', -1)
redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
redis.call('INCRBY', KEYS[5], #ARGV[3])
return 1
"""
# KEYS: lease; ARGV: owner, milliseconds
LEASE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
FIELDS = (
    "id",
    "api",
    "tenant",
    "key_id",
    "endpoint",
    "created",
    "expires_at",
    "cancel_initiated_at",
    "ended_at",
    "extra",
)


class RedisBatchStore:
    def __init__(self, shared: RedisLink) -> None:
        self.shared = shared
        self.redis = shared.client
        self._finish = self.redis.register_script(FINISH)
        self._lease = self.redis.register_script(LEASE_SCRIPT)

    def close(self) -> None:
        pass  # the Redis client is the gateway's (closed with it)

    def _key(self, kind: str, batch_id: str) -> str:
        return self.shared.key(kind, batch_id)

    async def lease(self, batch_id: str, owner: str) -> bool:
        """Hold (or keep holding) the batch for this replica; False while another holds it."""
        held = await self._lease(keys=[self._key("batch-lease", batch_id)], args=[owner, int(LEASE * 1000)])
        return bool(held)

    # --- batches ------------------------------------------------------------------------------
    async def add(self, batch: Batch, requests: list[BatchRequest]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key("batch", batch.id), mapping=_fields(batch, FIELDS))
            if requests:
                rows = {
                    str(i): json.dumps({"custom_id": r.custom_id, "params": r.params}) for i, r in enumerate(requests)
                }
                pipe.hset(self._key("batch-req", batch.id), mapping=rows)
                pipe.hset(self._key("batch-state", batch.id), mapping={str(i): PENDING for i in range(len(requests))})
                pipe.zadd(self._key("batch-pending", batch.id), {str(i): i for i in range(len(requests))})
                pipe.hset(self._key("batch-counts", batch.id), PENDING, str(len(requests)))
            pipe.zadd(self.shared.key("batches", batch.tenant, batch.api), {batch.id: batch.created})
            if not batch.ended:
                pipe.sadd(self.shared.key("batches-open"), batch.id)
            await pipe.execute()

    async def get(self, batch_id: str) -> Batch | None:
        found = await self._batch(batch_id)
        return None if found is None else (await self.counted([found]))[0]

    async def _batch(self, batch_id: str) -> Batch | None:
        raw = await reply(self.redis.hgetall(self._key("batch", batch_id)))
        if not raw:
            return None
        values: dict[str, Any] = {k.decode(): json.loads(v) for k, v in raw.items()}
        fields: dict[str, Any] = {name: values.get(name) for name in FIELDS}
        return Batch(**fields)

    async def listed(self, tenant: str, api: str) -> list[Batch]:
        ids = await reply(self.redis.zrevrange(self.shared.key("batches", tenant, api), 0, -1))
        found = [await self._batch(i.decode()) for i in ids]
        return [b for b in found if b is not None]

    async def counted(self, found: list[Batch]) -> list[Batch]:
        for batch in found:
            raw = await reply(self.redis.hgetall(self._key("batch-counts", batch.id)))
            batch.counts = {k.decode(): int(v) for k, v in raw.items() if int(v)}
        return found

    async def unfinished(self) -> list[Batch]:
        ids = await reply(self.redis.smembers(self.shared.key("batches-open")))
        found = [b for b in [await self._batch(i.decode()) for i in ids] if b is not None]
        return await self.counted(sorted(found, key=lambda b: b.created))

    async def open_count(self, tenant: str) -> int:
        """How many of the tenant's batches (both APIs) have not ended."""
        ids = [i for api in APIS for i in await self._ids(tenant, api)]
        return sum(await self._open(ids))

    async def output_bytes(self, tenant: str) -> int:
        """The bytes of results the store holds for the tenant: every Anthropic batch's, and the
        OpenAI batches' not ended yet (an ended one's are its output and error files, which the
        files store counts)."""
        openai = await self._ids(tenant, "openai")
        still = await self._open(openai)
        held = await self._ids(tenant, "anthropic") + [i for i, o in zip(openai, still, strict=True) if o]
        if not held:
            return 0
        sizes = await reply(self.redis.mget([self._key("batch-bytes", i) for i in held]))
        return sum(int(size) for size in sizes if size is not None)

    async def _ids(self, tenant: str, api: str) -> list[str]:
        return [i.decode() for i in await reply(self.redis.zrange(self.shared.key("batches", tenant, api), 0, -1))]

    async def _open(self, ids: list[str]) -> list[bool]:
        if not ids:
            return []
        return [bool(x) for x in await reply(self.redis.smismember(self.shared.key("batches-open"), ids))]

    async def update(self, batch: Batch, fields: tuple[str, ...] = FIELDS) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key("batch", batch.id), mapping=_fields(batch, fields))
            if batch.ended:
                pipe.srem(self.shared.key("batches-open"), batch.id)
            await pipe.execute()

    async def delete(self, batch_id: str) -> None:
        batch = await self._batch(batch_id)
        kinds = (
            "batch",
            "batch-req",
            "batch-state",
            "batch-result",
            "batch-pending",
            "batch-counts",
            "batch-lease",
            "batch-bytes",
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self._key(kind, batch_id) for kind in kinds))
            if batch is not None:
                pipe.zrem(self.shared.key("batches", batch.tenant, batch.api), batch_id)
            pipe.srem(self.shared.key("batches-open"), batch_id)
            await pipe.execute()

    # --- requests -----------------------------------------------------------------------------
    async def pending(self, batch_id: str, limit: int, skip: set[int]) -> list[tuple[int, BatchRequest]]:
        ids = await reply(self.redis.zrange(self._key("batch-pending", batch_id), 0, limit + len(skip) - 1))
        chosen = [int(i) for i in ids if int(i) not in skip][:limit]
        if not chosen:
            return []
        rows = await reply(self.redis.hmget(self._key("batch-req", batch_id), [str(i) for i in chosen]))
        out = []
        for idx, row in zip(chosen, rows, strict=True):
            if row is not None:
                item = json.loads(row)
                out.append((idx, BatchRequest(item["custom_id"], item["params"])))
        return out

    async def finish(self, batch_id: str, idx: int, outcome: Outcome) -> bool:
        kinds = ("batch-state", "batch-result", "batch-pending", "batch-counts", "batch-bytes")
        keys = [self._key(kind, batch_id) for kind in kinds]
        done = await self._finish(keys=keys, args=[str(idx), outcome.state, json.dumps(outcome.result)])
        return bool(done)

    async def settle(self, batch_id: str, outcome: Outcome, but: set[int]) -> None:
        """Each pending request but those in `but` comes to `outcome`, SETTLE_PAGE of them a round
        trip (one by one, a 100,000-request batch's cancel took 100,000 round trips)."""
        kinds = ("batch-state", "batch-result", "batch-pending", "batch-counts", "batch-bytes")
        keys = [self._key(kind, batch_id) for kind in kinds]
        result = json.dumps(outcome.result)
        ids = await reply(self.redis.zrange(self._key("batch-pending", batch_id), 0, -1))
        chosen = [i.decode() for i in ids if int(i) not in but]
        for start in range(0, len(chosen), SETTLE_PAGE):
            async with self.redis.pipeline(transaction=False) as pipe:
                for idx in chosen[start : start + SETTLE_PAGE]:
                    await self._finish(keys=keys, args=[idx, outcome.state, result], client=pipe)
                await pipe.execute()

    async def results(
        self, batch_id: str, start: int = 0, count: int | None = None
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(custom_id, state, result) of every request (or of `count` from index `start`), in order."""
        total = int(await reply(self.redis.hlen(self._key("batch-req", batch_id))))
        fields = [str(i) for i in range(start, total if count is None else min(total, start + count))]
        if not fields:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind in ("batch-req", "batch-state", "batch-result"):
                pipe.hmget(self._key(kind, batch_id), fields)
            requests, states, results = await pipe.execute()
        out = []
        for request, state, result in zip(requests, states, results, strict=True):
            if request is not None:
                out.append(
                    (
                        json.loads(request)["custom_id"],
                        (state or PENDING.encode()).decode(),
                        None if result is None else json.loads(result),
                    )
                )
        return out


def _fields(batch: Batch, names: tuple[str, ...]) -> dict[str, str]:
    values = {name: getattr(batch, name) for name in FIELDS}
    return {name: json.dumps(values[name]) for name in names}
