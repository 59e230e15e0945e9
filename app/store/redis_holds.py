"""Budget reservations of running turns on Redis, so that a key's budget holds over every replica.

    P ledger:holds:<tenant>         zset: the ids of the tenant's live holds, scored by when their
                                    lease ends (ms, Redis' clock)
    P ledger:hold-amounts:<tenant>  hash {id: "<nanos>:<tokens>"}: what each holds

A reservation is one Lua script: it drops lapsed holds, sums the ledger's spent buckets of the
period (the keys RedisLedger.spent reads) and the live holds, applies the budget rule
(store/base.py admits(), written again here in Lua), and adds the new holds only if they fit. So two
replicas can never both take the last of a budget. A turn's ledger entry drops its holds in the
same MULTI that records it (redis_ledger.py); a replica that dies mid-turn leaves holds that lapse
after their lease (the gateway's turn timeout and a minute), and both keys expire with the last.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.redis import RedisLink
from .base import Reservation, Reserved, Spent

NANO = 1_000_000_000

# KEYS: holds zset, amounts hash, then the spent buckets. ARGV: budget nanos (-1: none), token
# budget (-1: none), lease ms, each's nanos, each's tokens, then the new holds' ids.
# Returns {admitted, spent nanos, spent tokens, held nanos, held tokens, live holds}.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #lapsed > 0 then
  redis.call('ZREM', KEYS[1], unpack(lapsed))
  redis.call('HDEL', KEYS[2], unpack(lapsed))
end
local sn, st = 0, 0
for i = 3, #KEYS do
  local found = redis.call('HMGET', KEYS[i], 'nanos', 'tokens')
  sn = sn + (tonumber(found[1]) or 0)
  st = st + (tonumber(found[2]) or 0)
end
local hn, ht = 0, 0
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(live) do
  local amount = redis.call('HGET', KEYS[2], id)
  if amount then
    local colon = string.find(amount, ':')
    hn = hn + tonumber(string.sub(amount, 1, colon - 1))
    ht = ht + tonumber(string.sub(amount, colon + 1))
  end
end
local bn, bt, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local en, et = tonumber(ARGV[4]), tonumber(ARGV[5])
local count = #ARGV - 5
local fits = (bn < 0 or sn + hn + count * en <= bn) and (bt < 0 or st + ht + count * et <= bt)
local lone = count == 1 and #live == 0 and (bn < 0 or sn < bn) and (bt < 0 or st < bt)
local admitted = 0
if fits or lone then
  admitted = 1
  for i = 6, #ARGV do
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[4] .. ':' .. ARGV[5])
  end
  for k = 1, 2 do
    if redis.call('PTTL', KEYS[k]) < lease then redis.call('PEXPIRE', KEYS[k], lease) end
  end
end
return {admitted, sn, st, hn, ht, #live}
"""


class RedisHolds:
    def __init__(self, shared: RedisLink) -> None:
        self.shared = shared
        self._reserve = shared.client.register_script(_RESERVE)

    def keys(self, tenant: str) -> tuple[str, str]:
        """The tenant's holds zset and amounts hash."""
        return self.shared.key("ledger", "holds", tenant), self.shared.key("ledger", "hold-amounts", tenant)

    async def reserve(self, reservation: Reservation, spent_buckets: Sequence[str]) -> Reserved:
        budget = -1 if reservation.budget_usd is None else round(min(reservation.budget_usd, 1e9) * NANO)
        tokens = -1 if reservation.token_budget is None else reservation.token_budget
        each = reservation.each
        args = [budget, tokens, int(reservation.lease * 1000), round(each.cost_usd * NANO), each.tokens]
        found = await self._reserve(
            keys=[*self.keys(reservation.tenant), *spent_buckets], args=[*args, *reservation.ids]
        )
        admitted, sn, st, hn, ht, live = (int(value) for value in found)
        return Reserved(bool(admitted), Spent(sn / NANO, st), Spent(hn / NANO, ht), live)

    async def release(self, tenant: str, holds: Sequence[str]) -> None:
        if not holds:
            return
        zset, amounts = self.keys(tenant)
        pipe = self.shared.client.pipeline(transaction=True)
        pipe.zrem(zset, *holds)
        pipe.hdel(amounts, *holds)
        await pipe.execute()
