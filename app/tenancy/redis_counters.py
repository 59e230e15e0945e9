"""A key's limits counted in Redis, so that they hold across replicas: a limit of 100 requests per
minute over 4 replicas is 100, not 400, and max_concurrent counts the key's turns on all of them.

- rpm: a sorted set per key of its requests' ids scored by their time, in one Lua script that
  trims the minute, counts, and adds the request only if under the limit, so two replicas can
  never both take the last place. Time is the Redis server's (TIME inside the script): the
  replicas' monotonic clocks differ and their wall clocks drift; one clock keeps the window fair.
- max_concurrent: leases. A turn holds a lease id in the key's sorted set, scored by when it
  lapses; the script takes one only while fewer than the limit are unlapsed. The turn renews
  it every LEASE / 3 while it runs and removes it at its end; a replica that crashed mid-turn
  stops renewing, and its leases lapse after LEASE (60 s) at most, giving their slots back.
  A turn waiting for a slot asks again every POLL (50 ms) up to its busy_wait: Redis has no
  cheap wake-up across replicas, and a turn takes seconds, so 50 ms is lost in the noise.

Every key expires once nothing is in it any more (the window's after a minute, the leases' after
LEASE): a key that stops calling leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.exceptions import RedisError

from ..core.errors import GatewayError, store_unavailable
from ..core.redis import RedisLink
from .counters import WINDOW, Slot, Window

log = logging.getLogger(__name__)

LEASE = 60.0  # seconds a turn's slot outlives its replica's last renewal
POLL = 0.05  # seconds between a waiting turn's asks for a free slot

# KEYS[1] the key's window; ARGV limit, window ms, request id, "1" to count it ("0": only look).
# Returns {1 if under the limit (then counted), requests in the window, ms until the oldest leaves}.
_REQUESTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local admitted = 0
if used < tonumber(ARGV[1]) then
  admitted = 1
  if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    used = used + 1
  end
end
local reset = 0
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {admitted, used, reset}
"""

# KEYS[1] the key's leases; ARGV limit, lease id, lease ms. Holds the lease for lease ms from now
# if it is still held (a renewal) or fewer than limit others are (a take, or a lapsed one's retake).
# Returns 1 if held, 0 if the slots are full.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
"""


class RedisCounters:
    def __init__(
        self, shared: RedisLink, lease: float = LEASE, renew_every: float | None = None, window: float = WINDOW
    ) -> None:
        self.shared = shared
        self.window = window  # the rpm window's seconds (shorter only in tests)
        self.lease = lease
        self.renew_every = lease / 3 if renew_every is None else renew_every
        self._requests = shared.client.register_script(_REQUESTS)
        self._hold = shared.client.register_script(_HOLD)
        self._pending: set[asyncio.Task[None]] = set()  # releases of takes that were cut short

    async def requests(self, key: str, limit: int, count: bool) -> Window:
        args: list[int | str] = [limit, int(self.window * 1000), uuid.uuid4().hex, 1 if count else 0]
        try:
            admitted, used, reset = await self._requests(keys=[self.shared.key("rpm", key)], args=args)
        except RedisError as exc:
            raise unavailable(exc) from exc
        return Window(int(used), int(reset) / 1000, bool(admitted))

    async def take(self, key: str, limit: int, wait: float) -> Slot | None:
        name, lease = self.shared.key("running", key), uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            while not await self.hold(name, limit, lease):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                await asyncio.sleep(min(POLL, remaining))
        except BaseException as exc:
            # Cut short (the client left, Redis failed) maybe after the script took the lease.
            task = asyncio.create_task(self.release(name, lease))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            if isinstance(exc, RedisError):
                raise unavailable(exc) from exc
            raise
        return _Lease(self, name, limit, lease)

    async def hold(self, name: str, limit: int, lease: str) -> bool:
        return bool(await self._hold(keys=[name], args=[limit, lease, int(self.lease * 1000)]))

    async def release(self, name: str, lease: str) -> None:
        """Give a slot back; if Redis cannot be reached, the lease lapses by itself."""
        try:
            await self.shared.client.zrem(name, lease)
        except RedisError as exc:
            log.warning("could not release turn slot %s of %s (it lapses in %g s): %s", lease, name, self.lease, exc)


class _Lease:
    """A held slot: renewed in the background until released."""

    def __init__(self, counters: RedisCounters, name: str, limit: int, lease: str) -> None:
        self.counters, self.name, self.limit, self.lease = counters, name, limit, lease
        self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.counters.renew_every)
            try:
                held = await self.counters.hold(self.name, self.limit, self.lease)
            except Exception as exc:  # Redis away for a moment: the next renewal may reach it in time
                log.warning("could not renew the turn slot %s of %s: %s", self.lease, self.name, exc)
                continue
            if not held:  # lapsed (this replica stalled past the lease) and taken meanwhile
                log.warning("turn slot %s of %s lapsed; the turn goes on over the key's limit", self.lease, self.name)

    async def release(self) -> None:
        self._renewer.cancel()
        # Shielded: a request cancelled while it gives its slot back still gives it back.
        await asyncio.shield(self.counters.release(self.name, self.lease))


def unavailable(exc: Exception) -> GatewayError:
    """503 for a request whose limits cannot be counted: Redis is down or unreachable."""
    log.warning("Redis unavailable for the limits' counters: %s", exc)
    return store_unavailable()
