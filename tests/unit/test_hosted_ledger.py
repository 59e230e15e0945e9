"""Hosted tool calls in the usage ledger: a turn's meter counts the hosted calls that ran (a
refused one, an error result, is not counted; nor is Claude Code's own activity), the entry carries
them, and both stores (SQLite rows, the Redis ledger's counters on a real redis-server) sum them
into /v1/usage's totals and the Admin-API usage report's `server_tool_use`."""

from __future__ import annotations

import calendar

import pytest

from app.core.events import Finish, TextDelta, ToolResult, ToolUse, Usage
from app.core.turn import Turn
from app.store import UsageEntry
from app.usage.ledger import Ledger, Meter, grouped, total
from app.usage.report_params import usage_query
from app.usage.reports import usage_report

HOUR, DAY = 3600, 86400
APR_1 = calendar.timegm((2026, 4, 1, 0, 0, 0))


def search(call_id: str, failed: bool = False) -> list[object]:
    use = ToolUse(call_id, "WebSearch", {"query": "python"}, hosted="web_search")
    return [use, ToolResult(call_id, "WebSearch", "found", failed, hosted="web_search")]


def test_the_meter_counts_hosted_calls_that_ran_by_tool():
    meter = Meter()
    events = [
        *search("s1"),
        *search("s2", failed=True),  # refused (max_uses, a blocked domain): it did not run
        *search("s3"),
        ToolUse("f1", "WebFetch", {"url": "https://example.org"}, hosted="web_fetch"),
        ToolResult("f1", "WebFetch", "page", hosted="web_fetch"),
        ToolResult("b1", "Bash", "ok"),  # agent mode's own activity
        ToolResult("w1", "WebSearch", "found", parent="task_1"),  # a subagent's search: no hosted tool
        ToolResult("m1", "mcp__docs__search", "ok", server="docs", hosted="mcp"),
        TextDelta("done"),
        Finish("stop", Usage(input_tokens=3, output_tokens=2), cost_usd=0.02),
    ]
    for event in events:
        meter.see(event)
    assert dict(meter.hosted_calls) == {"web_search": 2, "web_fetch": 1, "mcp": 1}
    assert meter.usage.output_tokens == 2 and meter.cost_usd == 0.02


async def test_the_ledger_entry_carries_the_counts_and_both_stores_sum_them(store):
    ledger = Ledger(store, lambda: {"sonnet"})
    searched = Meter(model="sonnet")
    for event in [*search("s1"), *search("s2"), *search("s3", failed=True)]:
        searched.see(event)
    fetched = Meter(model="sonnet")
    fetched.see(ToolResult("f1", "WebFetch", "page", hosted="web_fetch"))
    turn = Turn("sonnet", [], tenant="t1")
    await ledger.record(turn, "gk_1", "messages", None, searched, "ok")
    await ledger.record(turn, "gk_1", "messages", None, fetched, "cancelled")  # cut short after its fetch
    await ledger.record(turn, "gk_1", "chat", None, Meter(model="sonnet"), "ok")
    await ledger.record(Turn("sonnet", [], tenant="t2"), None, "chat", None, searched, "error", "timeout")

    totals = await store.usage(0, 10**10)
    summed = total(totals)
    assert (summed["requests"], summed["web_search_requests"], summed["web_fetch_requests"]) == (4, 4, 1)
    assert summed["mcp_calls"] == 0 and summed["total_tokens"] == 0  # counts are no tokens
    by_key = {g["key"]: g for g in grouped(totals, "key")}
    assert (by_key["gk_1"]["web_search_requests"], by_key["gk_1"]["web_fetch_requests"]) == (2, 1)
    assert (by_key["t2"]["web_search_requests"], by_key["t2"]["web_fetch_requests"]) == (2, 0)
    [failed] = await store.failures(10)
    assert failed.web_search_requests == 2 and failed.error == "timeout"


async def test_the_usage_report_counts_web_searches_per_bucket_and_group(store):
    def entry(at: float, key_id: str, searches: int, fetches: int = 0) -> UsageEntry:
        return UsageEntry(
            at,
            key_id,
            f"key-{key_id}",
            None,
            "sonnet",
            "chat",
            web_search_requests=searches,
            web_fetch_requests=fetches,
        )

    for e in (entry(APR_1 + 1, "gk_1", 2, 1), entry(APR_1 + HOUR, "gk_1", 1), entry(APR_1 + 5, "gk_2", 0, 4)):
        await store.record(e)
    await store.record(entry(APR_1 + DAY + 1, "gk_1", 7))
    buckets = await store.buckets(APR_1, APR_1 + DAY, HOUR)
    assert sorted((b.start, b.key_id, b.web_search_requests, b.web_fetch_requests) for b in buckets) == [
        (APR_1, "gk_1", 2, 1),
        (APR_1, "gk_2", 0, 4),
        (APR_1 + HOUR, "gk_1", 1, 0),
    ]
    params = {"starting_at": ["2026-04-01T00:00:00Z"], "ending_at": ["2026-04-03T00:00:00Z"]}
    query = usage_query({**params, "group_by[]": ["api_key_id"]})
    report = usage_report(query, await store.buckets(query.start, query.page_end, query.width))
    days = [{r["api_key_id"]: r["server_tool_use"] for r in bucket["results"]} for bucket in report["data"]]
    assert days == [
        {"gk_1": {"web_search_requests": 3}, "gk_2": {"web_search_requests": 0}},
        {"gk_1": {"web_search_requests": 7}},
    ]


@pytest.mark.parametrize("count", ["web_search_requests", "web_fetch_requests", "mcp_calls"])
async def test_each_count_is_kept_apart(store, count):
    await store.record(UsageEntry(APR_1, "gk_1", "t1", None, "sonnet", "chat", **{count: 5}))
    [summed] = await store.usage(APR_1, APR_1 + DAY)
    counts = {name: getattr(summed, name) for name in ("web_search_requests", "web_fetch_requests", "mcp_calls")}
    assert counts == {**dict.fromkeys(counts, 0), count: 5}
