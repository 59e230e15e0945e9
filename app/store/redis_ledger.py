"""The usage ledger on Redis: counters, not rows, so that the request path never scans.

SQLite keeps every turn as a row and sums rows on demand. On Redis the sums are kept as the turns
are recorded, in buckets (P = the operator's prefix; every write of one turn is one MULTI):

    P ledger:spent:<tenant>:<YYYY-MM-DD>        hash {nanos, tokens}: a tenant's UTC day
    P ledger:spent:<tenant>:<YYYY-MM-DD>T<HH>   hash {nanos, tokens}: a tenant's UTC hour
    P ledger:day:<YYYY-MM-DD>:<tenant>          hash {"<counter>:" + JSON [key_id, model]: n}
    P ledger:tenants:<YYYY-MM-DD>               set: the tenants with turns that day
    P ledger:days                               zset: the days with turns (score: the day's start)
    P ledger:failures                           zset: the latest failed turns (JSON; score: `at`)
    P ledger:report:<YYYY-MM-DD>                hash {"<counter>:" + JSON [tenant, key_id, model,
    P ledger:report:<YYYY-MM-DD>T<HH>                 service_tier, context_window]: n}: the reports' buckets

- `spent(tenant, since)` runs before every turn of a key with a budget: it reads at most 24 hour
  buckets and 41 day buckets in one round trip. Exact when `since` is at the start of an hour
  (a budget period starts at a UTC day or month); otherwise `since` counts from its hour's start.
  The spent buckets live SPENT_DAYS days: a `since` older than that counts from SPENT_DAYS ago.
- `usage(start, end)` sums day buckets: a day counts whole when it overlaps [start, end), so a
  period of whole UTC days (all /v1/usage and /admin/usage take by date) is exact. The day
  buckets (and a day's tenants, and its place in `days`) live LEDGER_DAYS days, as long as the
  reports' hour buckets: keys a client's turns make never stay for good. A tenant's usage reads its
  own hash per day; everyone's (the admin's, with or without a key_id) reads every tenant's.
- Costs are summed as integer nano-dollars (HINCRBY): exact and the same whichever replica adds
  first; a cost is rounded to the nano-dollar once, when recorded. They come back as float USD.
- `buckets(start, end, width)` (the Admin-API style usage and cost reports) reads one report hash
  per hour or day bucket: 1h and 1d only, a minute has no counters (BucketWidthUnsupported). The
  hour hashes live REPORT_HOURS_DAYS days, the day ones as long as the day buckets. They count the
  turns recorded since the gateway that writes them (turns recorded before show in /v1/usage only).
- `failures` keeps the latest FAILURES_KEPT failed turns (the admin asks for 200 at most).
"""

from __future__ import annotations

import calendar
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from ..core.redis import RedisLink
from .base import (
    HOSTED_COUNTS,
    TOKENS,
    BucketTotal,
    BucketWidthUnsupported,
    Reservation,
    Reserved,
    Spent,
    UsageEntry,
    UsageTotal,
    bucket_span,
    context_window,
    service_tier,
)
from .redis_holds import RedisHolds

DAY = 86400
HOUR = 3600
SPENT_DAYS = 40  # a month-long budget period and some slack
FAILURES_KEPT = 1000
REPORT_HOURS_DAYS = 400  # the hour buckets of the reports: a year and some slack
LEDGER_DAYS = 400  # the day buckets (usage, reports, tenants of a day) too: then they expire
NANO = 1_000_000_000
COUNTERS = ("requests", *TOKENS, *HOSTED_COUNTS)  # each summed under its name (a missing field: 0)


def day_of(moment: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(moment))


def hour_of(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(moment))


def day_start(moment: float) -> int:
    return int(moment // DAY * DAY)


def day_score(day: str) -> int:
    return calendar.timegm(time.strptime(day, "%Y-%m-%d"))


class RedisLedger:
    def __init__(self, shared: RedisLink) -> None:
        self.shared = shared
        self.redis = shared.client
        self.holds = RedisHolds(shared)

    async def reserve(self, reservation: Reservation) -> Reserved:
        return await self.holds.reserve(reservation, self._spent_buckets(reservation.tenant, reservation.since))

    async def release(self, tenant: str, holds: Sequence[str]) -> None:
        await self.holds.release(tenant, holds)

    async def record(self, entry: UsageEntry, holds: Sequence[str] = ()) -> None:
        day, hour = day_of(entry.at), hour_of(entry.at)
        nanos = round(entry.cost_usd * NANO)
        tokens = sum(getattr(entry, name) for name in TOKENS)
        group = json.dumps([entry.key_id, entry.model])
        counted = {name: getattr(entry, name) for name in COUNTERS[1:]}
        # A count that is 0 is not written (most turns make no hosted call): it reads back as 0.
        sums = {"requests": 1, **{name: n for name, n in counted.items() if n}, "nanos": nanos}
        pipe = self.redis.pipeline(transaction=True)
        for bucket in (day, hour):
            spent = self.shared.key("ledger", "spent", entry.tenant, bucket)
            pipe.hincrby(spent, "nanos", nanos)
            pipe.hincrby(spent, "tokens", tokens)
            pipe.expire(spent, SPENT_DAYS * DAY)
        totals = self.shared.key("ledger", "day", day, entry.tenant)
        for name, value in sums.items():
            pipe.hincrby(totals, f"{name}:{group}", value)
        pipe.expire(totals, LEDGER_DAYS * DAY)
        window = context_window(entry.input_tokens, entry.cache_read_input_tokens, entry.cache_creation_input_tokens)
        report_group = json.dumps([entry.tenant, entry.key_id, entry.model, service_tier(entry.door), window])
        for bucket in (day, hour):
            report = self.shared.key("ledger", "report", bucket)
            for name, value in sums.items():
                pipe.hincrby(report, f"{name}:{report_group}", value)
        pipe.expire(self.shared.key("ledger", "report", hour), REPORT_HOURS_DAYS * DAY)
        pipe.expire(self.shared.key("ledger", "report", day), LEDGER_DAYS * DAY)
        tenants = self.shared.key("ledger", "tenants", day)
        pipe.sadd(tenants, entry.tenant)
        pipe.expire(tenants, LEDGER_DAYS * DAY)
        days = self.shared.key("ledger", "days")
        pipe.zadd(days, {day: day_score(day)})
        pipe.zremrangebyscore(days, "-inf", f"({day_score(day) - LEDGER_DAYS * DAY}")
        if holds:  # the budget the turn reserved, settled by this entry (redis_holds.py)
            zset, amounts = self.holds.keys(entry.tenant)
            pipe.zrem(zset, *holds)
            pipe.hdel(amounts, *holds)
        if entry.status == "error":
            failures = self.shared.key("ledger", "failures")
            member = json.dumps({"n": secrets.token_hex(8), "entry": vars(entry)})  # n: equal entries stay two
            pipe.zadd(failures, {member: entry.at})
            pipe.zremrangebyrank(failures, 0, -FAILURES_KEPT - 1)
        await pipe.execute()

    async def failures(self, limit: int) -> list[UsageEntry]:
        if limit <= 0:
            return []
        members = await self.redis.zrevrange(self.shared.key("ledger", "failures"), 0, limit - 1)
        return [UsageEntry(**json.loads(member)["entry"]) for member in members]

    async def spent(self, tenant: str, since: float) -> Spent:
        pipe = self.redis.pipeline(transaction=False)
        for bucket in self._spent_buckets(tenant, since):
            pipe.hmget(bucket, ["nanos", "tokens"])
        nanos = tokens = 0
        for found_nanos, found_tokens in await pipe.execute():
            nanos += int(found_nanos or 0)
            tokens += int(found_tokens or 0)
        return Spent(nanos / NANO, tokens)

    def _spent_buckets(self, tenant: str, since: float) -> list[str]:
        """The keys of the spent buckets that sum a tenant's spending since `since`."""
        now = time.time()
        since = max(since, now - SPENT_DAYS * DAY)
        buckets: list[str] = []
        first_day = day_start(since)
        if since > first_day:  # a partial first day: its hours from since's own
            hour = int(since // HOUR * HOUR)
            while hour < min(first_day + DAY, now + HOUR):
                buckets.append(hour_of(hour))
                hour += HOUR
            first_day += DAY
        for start in range(first_day, day_start(now) + DAY + 1, DAY):  # tomorrow too: a replica's clock runs ahead
            buckets.append(day_of(start))
        return [self.shared.key("ledger", "spent", tenant, bucket) for bucket in buckets]

    async def usage(
        self, start: float, end: float, tenant: str | None = None, key_id: str | None = None
    ) -> list[UsageTotal]:
        days_key = self.shared.key("ledger", "days")
        days = [d.decode() for d in await self.redis.zrangebyscore(days_key, day_start(start), f"({end}")]
        wanted: list[tuple[str, str]] = []
        if tenant is not None:
            wanted = [(day, tenant) for day in days]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for day in days:
                pipe.smembers(self.shared.key("ledger", "tenants", day))
            for day, tenants in zip(days, await pipe.execute(), strict=True):
                wanted += [(day, t.decode()) for t in sorted(tenants)]
        pipe = self.redis.pipeline(transaction=False)
        for day, who in wanted:
            pipe.hgetall(self.shared.key("ledger", "day", day, who))
        totals: list[UsageTotal] = []
        for (day, who), fields in zip(wanted, await pipe.execute(), strict=True):
            totals += [t for t in _totals(day, who, fields) if key_id is None or t.key_id == key_id]
        return sorted(totals, key=lambda t: (t.day, t.tenant, t.model, t.key_id or ""))

    async def buckets(self, start: float, end: float, width: int) -> list[BucketTotal]:
        if width not in (HOUR, DAY):
            raise BucketWidthUnsupported(
                "The ledger is on Redis (GATEWAY_REDIS_URL), which keeps hour and day counters only: "
                "ask for bucket_width 1h or 1d."
            )
        name = hour_of if width == HOUR else day_of
        first, last = bucket_span(start, end, width)
        starts = list(range(first, last, width))
        pipe = self.redis.pipeline(transaction=False)
        for bucket in starts:
            pipe.hgetall(self.shared.key("ledger", "report", name(bucket)))
        totals: list[BucketTotal] = []
        for bucket, fields in zip(starts, await pipe.execute(), strict=True):
            totals += _bucket_totals(bucket, fields)
        return totals


def _bucket_totals(start: int, fields: dict[bytes, bytes]) -> list[BucketTotal]:
    """One report hash as totals, one per (tenant, key, model, service tier, context window)."""
    groups: dict[str, dict[str, int]] = {}
    for field, value in fields.items():
        name, group = field.decode().split(":", 1)
        groups.setdefault(group, {})[name] = int(value)
    totals = []
    for group, sums in sorted(groups.items()):
        tenant, key_id, model, tier, window = json.loads(group)
        counts: dict[str, Any] = {name: sums.get(name, 0) for name in COUNTERS}
        cost = sums.get("nanos", 0) / NANO
        totals.append(BucketTotal(start, tenant, key_id, model, tier, window, cost_usd=cost, **counts))
    return totals


def _totals(day: str, tenant: str, fields: dict[bytes, bytes]) -> list[UsageTotal]:
    """One day's hash of a tenant as totals, one per (key, model)."""
    groups: dict[str, dict[str, int]] = {}
    for field, value in fields.items():
        name, group = field.decode().split(":", 1)
        groups.setdefault(group, {})[name] = int(value)
    totals = []
    for group, sums in groups.items():
        key_id, model = json.loads(group)
        counts: dict[str, Any] = {name: sums.get(name, 0) for name in COUNTERS}
        totals.append(UsageTotal(tenant, key_id, day, model, cost_usd=sums.get("nanos", 0) / NANO, **counts))
    return totals
