"""The ledger's report buckets (Store.buckets) add up to the turns recorded, on both stores (SQLite
rows, and the Redis ledger's counters on a real redis-server); and the reports' query: paging walks
every bucket once, bad values are 400s."""

from __future__ import annotations

import calendar
import time
from collections import Counter

import pytest

from app.core.errors import GatewayError
from app.store import BucketWidthUnsupported, RedisStore, UsageEntry
from app.usage.report_params import cost_query, page_token, usage_query
from app.usage.reports import cost_report, usage_report

HOUR, DAY = 3600, 86400
MAR_1 = calendar.timegm((2026, 3, 1, 0, 0, 0))


def entry(at: float, tenant: str = "key-gk_1", key_id: str | None = "gk_1", **fields) -> UsageEntry:
    values = {"session_id": None, "model": "sonnet", "door": "chat", "input_tokens": 10, "output_tokens": 5}
    return UsageEntry(at=at, tenant=tenant, key_id=key_id, **{**values, **fields})


# Known turns: two keys and a GATEWAY_API_KEYS tenant, two models, a batch turn, a long prompt, on
# bucket edges (the first second of an hour, the last of a day) and over two days.
ENTRIES = [
    entry(MAR_1, cost_usd=0.5),
    entry(MAR_1 + HOUR - 0.001, model="opus", cost_usd=0.25, cache_read_input_tokens=7),
    entry(MAR_1 + HOUR, door="batch", cost_usd=0.125, cache_creation_input_tokens=3),
    entry(MAR_1 + 5 * HOUR + 1, tenant="key-gk_2", key_id="gk_2", input_tokens=250_000, cost_usd=1.0),
    entry(MAR_1 + DAY - 0.5, tenant="key-abc", key_id=None, cost_usd=0.0625),
    entry(MAR_1 + DAY, output_tokens=9, cost_usd=0.03125),
    entry(MAR_1 + 2 * DAY, cost_usd=99.0),  # after the period asked for
]


def expected(width: int, start: int, end: int) -> Counter:
    """The entries of the buckets in [start, end), summed per bucket and group, computed here."""
    sums: Counter = Counter()
    for e in ENTRIES:
        if start <= e.at < end:
            bucket = int(e.at // width * width)
            tier = "batch" if e.door == "batch" else "standard"
            prompt = e.input_tokens + e.cache_read_input_tokens + e.cache_creation_input_tokens
            group = (bucket, e.tenant, e.key_id, e.model, tier, "200k-1M" if prompt > 200_000 else "0-200k")
            for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                sums[(*group, name)] += getattr(e, name)
            sums[(*group, "requests")] += 1
            sums[(*group, "cost_usd")] += e.cost_usd
    return sums


def found(totals) -> Counter:
    sums: Counter = Counter()
    for t in totals:
        group = (t.start, t.tenant, t.key_id, t.model, t.service_tier, t.context_window)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "requests",
            "cost_usd",
        ):
            sums[(*group, name)] += getattr(t, name)
    return sums


@pytest.mark.parametrize("width", [HOUR, DAY])
async def test_the_buckets_add_up_to_the_turns_recorded(store, width):
    for e in ENTRIES:
        await store.record(e)
    totals = await store.buckets(MAR_1 + 1, MAR_1 + 2 * DAY, width)  # starting_at snaps to its bucket's start
    assert found(totals) == pytest.approx(expected(width, MAR_1, MAR_1 + 2 * DAY))
    assert {t.start % width for t in totals} == {0}
    batch = [t for t in totals if t.service_tier == "batch"]
    assert len(batch) == 1 and batch[0].start == MAR_1 + (HOUR if width == HOUR else 0)


async def test_a_partial_last_bucket_counts_whole(store):
    for e in ENTRIES:
        await store.record(e)
    totals = await store.buckets(MAR_1, MAR_1 + HOUR + 1, HOUR)  # two buckets: 00:00 and 01:00
    assert sorted({t.start for t in totals}) == [MAR_1, MAR_1 + HOUR]
    assert sum(t.requests for t in totals) == 3


async def test_minute_buckets_come_from_sqlite_rows_and_redis_refuses_them(store):
    for e in ENTRIES:
        await store.record(e)
    if isinstance(store, RedisStore):
        with pytest.raises(BucketWidthUnsupported, match="1h or 1d"):
            await store.buckets(MAR_1, MAR_1 + HOUR, 60)
        return
    totals = await store.buckets(MAR_1, MAR_1 + 2 * HOUR, 60)
    assert sorted(t.start for t in totals) == [MAR_1, MAR_1 + HOUR - 60, MAR_1 + HOUR]


async def test_the_reports_add_up_to_the_ledger(store):
    for e in ENTRIES:
        await store.record(e)
    params = {"starting_at": ["2026-03-01T00:00:00Z"], "ending_at": ["2026-03-03T00:00:00Z"]}
    query = usage_query({**params, "group_by[]": ["api_key_id", "service_tier"]})
    report = usage_report(query, await store.buckets(query.start, query.page_end, query.width))
    assert [b["starting_at"] for b in report["data"]] == ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]
    first = {(r["api_key_id"], r["service_tier"]): r for r in report["data"][0]["results"]}
    assert set(first) == {("gk_1", "standard"), ("gk_1", "batch"), ("gk_2", "standard"), ("key-abc", "standard")}
    assert first[("gk_1", "standard")]["uncached_input_tokens"] == 20
    assert first[("gk_1", "standard")]["cache_read_input_tokens"] == 7
    assert first[("gk_1", "batch")]["cache_creation"] == {
        "ephemeral_1h_input_tokens": 0,
        "ephemeral_5m_input_tokens": 3,
    }
    assert first[("gk_1", "standard")]["model"] is None and first[("gk_1", "standard")]["workspace_id"] is None
    assert [r["output_tokens"] for r in report["data"][1]["results"]] == [9]

    query = cost_query({**params, "group_by[]": ["description"]})
    costs = cost_report(query, await store.buckets(query.start, query.page_end, query.width))
    day_one = costs["data"][0]["results"]
    assert {r["currency"] for r in day_one} == {"USD"}
    assert sum(float(r["amount"]) for r in day_one) == pytest.approx(193.75)  # $1.9375 in cents
    assert {(r["model"], r["service_tier"], r["context_window"]) for r in day_one} == {
        ("sonnet", "standard", "0-200k"),
        ("opus", "standard", "0-200k"),
        ("sonnet", "batch", "0-200k"),
        ("sonnet", "standard", "200k-1M"),
    }
    plain = cost_report(cost_query(params), await store.buckets(MAR_1, MAR_1 + 2 * DAY, DAY))
    assert [[r["amount"] for r in b["results"]] for b in plain["data"]] == [["193.75"], ["3.125"]]


def test_paging_walks_every_bucket_once_and_then_stops():
    base = {"starting_at": ["2026-03-01T00:30:00Z"], "ending_at": ["2026-03-03T00:00:01Z"], "bucket_width": ["1h"]}
    seen: list[int] = []
    page = None
    for _ in range(100):
        query = usage_query({**base, "limit": ["7"], **({"page": [page]} if page else {})})
        report = usage_report(query, [])
        seen += [calendar.timegm(time.strptime(b["starting_at"], "%Y-%m-%dT%H:%M:%SZ")) for b in report["data"]]
        assert len(report["data"]) <= 7 and report["has_more"] == (report["next_page"] is not None)
        page = report["next_page"]
        if page is None:
            break
    assert seen == list(range(MAR_1, MAR_1 + 2 * DAY + HOUR, HOUR))  # 00:00 snapped, to the bucket holding ending_at


def test_rfc3339_takes_offsets_fractions_and_lower_case():
    at = {"ending_at": ["2026-03-02T00:00:00Z"]}
    assert usage_query({**at, "starting_at": ["2026-03-01T01:00:00+01:00"]}).start == MAR_1
    assert usage_query({**at, "starting_at": ["2026-03-01t23:59:59.123456z"]}).start == MAR_1


def test_limits_default_and_cap_by_bucket_width():
    start = {"starting_at": ["2026-03-01T00:00:00Z"], "ending_at": ["2027-03-01T00:00:00Z"]}
    assert usage_query(start).limit == 7 and usage_query(start).width == DAY
    assert usage_query({**start, "bucket_width": ["1h"]}).limit == 24
    assert usage_query({**start, "bucket_width": ["1m"]}).limit == 60
    assert usage_query({**start, "bucket_width": ["1m"], "limit": ["1440"]}).limit == 1440
    assert cost_query({**start, "limit": ["31"]}).limit == 31


GOOD = {"starting_at": ["2026-03-01T00:00:00Z"], "ending_at": ["2026-03-02T00:00:00Z"]}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"starting_at": []}, "starting_at"),
        ({"starting_at": ["yesterday"]}, "starting_at"),
        ({"starting_at": ["2026-03-01"]}, "starting_at"),  # a date, not a timestamp
        ({"starting_at": ["2026-03-01T00:00:00"]}, "starting_at"),  # no time zone
        ({"ending_at": ["2026-13-01T00:00:00Z"]}, "ending_at"),
        ({"starting_at": ["0001-01-01T00:00:00+01:00"]}, "starting_at"),  # before year 1 in UTC
        ({"starting_at": ["1969-12-31T23:59:59Z"]}, "starting_at"),
        ({"ending_at": ["9999-12-31T23:59:59-05:00"]}, "ending_at"),  # after 9999 in UTC
        ({"starting_at": ["\x00"]}, "starting_at"),
        ({"ending_at": ["2026-02-28T00:00:00Z"]}, "ending_at"),  # before starting_at
        # before, or at, starting_at, in the bucket it snaps to
        ({"starting_at": ["2026-03-01T12:30:00Z"], "ending_at": ["2026-03-01T12:10:00Z"]}, "ending_at"),
        ({"starting_at": ["2026-03-01T12:30:00Z"], "ending_at": ["2026-03-01T12:30:00Z"]}, "ending_at"),
        ({"bucket_width": ["1w"]}, "bucket_width"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["32"]}, "limit"),  # 1d: 31 at most
        ({"limit": ["ten"]}, "limit"),
        ({"group_by[]": ["tenant"]}, "group_by"),
        ({"service_tiers[]": ["gold"]}, "service_tiers"),
        ({"page": ["page_bm90IGEgZGF0ZQ=="]}, "page"),  # "not a date"
        ({"page": ["garbage"]}, "page"),
        ({"page": [page_token(MAR_1 + 5 * DAY)]}, "page"),  # past ending_at
        ({"page": [page_token(MAR_1 + 60)]}, "page"),  # not a day bucket
    ],
)
def test_bad_usage_query_values_are_400s(change, param):
    with pytest.raises(GatewayError) as refused:
        usage_query({**GOOD, **change})
    assert (refused.value.status, refused.value.param) == (400, param)


@pytest.mark.parametrize(
    ("change", "param"),
    [({"bucket_width": ["1h"]}, "bucket_width"), ({"group_by": ["model"]}, "group_by"), ({"limit": ["32"]}, "limit")],
)
def test_bad_cost_query_values_are_400s(change, param):
    with pytest.raises(GatewayError) as refused:
        cost_query({**GOOD, **change})
    assert (refused.value.status, refused.value.param) == (400, param)
