"""The Anthropic Admin-API style usage and cost reports, folded from the ledger's buckets
(Store.buckets): pure functions from BucketTotals to the reports' JSON.

What the ledger knows of Anthropic's dimensions: the model, the API key (a managed key's id, else
the tenant a GATEWAY_API_KEYS key is named by; null for keyless use), the service tier ("batch"
for batch turns, else "standard") and the context window (by each turn's whole prompt). Workspaces,
accounts and service accounts are Anthropic Console notions: null. There is one inference geo and
one speed: "not_available" and "standard". The ledger keeps one cost per turn (what the CLI
reports), so the cost report has no per-token-type split (token_type null) and all cache writes
count as 5-minute ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..store import BucketTotal
from ..tenancy.auth import ANONYMOUS
from .report_params import USAGE_GROUPS, ReportQuery, stamp

NANO_CENTS = Decimal("0.0000001")  # a nano-dollar in cents: the ledger's precision


def dimensions(total: BucketTotal) -> dict[str, str | None]:
    """Each of the usage report's dimensions for one bucket total."""
    return {
        "api_key_id": total.key_id or (None if total.tenant == ANONYMOUS.id else total.tenant),
        "workspace_id": None,
        "model": total.model,
        "service_tier": total.service_tier,
        "context_window": total.context_window,
        "inference_geo": "not_available",
        "speed": "standard",
        "account_id": None,
        "service_account_id": None,
    }


def usage_report(query: ReportQuery, totals: list[BucketTotal]) -> dict[str, Any]:
    kept = [t for t in totals if _passes(dimensions(t), query.filters)]
    return _report(query, kept, query.group_by, _usage_results)


def cost_report(query: ReportQuery, totals: list[BucketTotal]) -> dict[str, Any]:
    return _report(query, totals, query.group_by, _cost_results)


def _report(query: ReportQuery, totals: list[BucketTotal], group_by: list[str], results: Any) -> dict[str, Any]:
    by_bucket: dict[int, list[BucketTotal]] = {}
    for total in totals:
        by_bucket.setdefault(total.start, []).append(total)
    data = [
        {
            "starting_at": stamp(start),
            "ending_at": stamp(start + query.width),
            "results": results(by_bucket.get(start, []), group_by),
        }
        for start in range(query.start, query.page_end, query.width)
    ]
    return {"data": data, "has_more": query.has_more, "next_page": query.next_page()}


def _usage_results(totals: list[BucketTotal], group_by: list[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[str | None, ...], list[BucketTotal]] = {}
    for total in totals:
        values = dimensions(total)
        groups.setdefault(tuple(values[name] for name in group_by), []).append(total)
    results = []
    for key in sorted(groups, key=_sortable):
        members = groups[key]
        grouped = dict(zip(group_by, key, strict=True))
        results.append(
            {
                "uncached_input_tokens": sum(t.input_tokens for t in members),
                "cache_creation": {
                    "ephemeral_1h_input_tokens": 0,
                    "ephemeral_5m_input_tokens": sum(t.cache_creation_input_tokens for t in members),
                },
                "cache_read_input_tokens": sum(t.cache_read_input_tokens for t in members),
                "output_tokens": sum(t.output_tokens for t in members),
                "server_tool_use": {"web_search_requests": sum(t.web_search_requests for t in members)},
                **{name: grouped.get(name) for name in USAGE_GROUPS},
            }
        )
    return results


def _cost_results(totals: list[BucketTotal], group_by: list[str]) -> list[dict[str, Any]]:
    described = "description" in group_by
    groups: dict[tuple[str | None, ...], Decimal] = {}
    for total in totals:
        key: tuple[str | None, ...] = (None, None, None)
        if described:
            key = (total.model, total.service_tier, total.context_window)
        groups[key] = groups.get(key, Decimal(0)) + cents(total.cost_usd)
    results = []
    for key in sorted(groups, key=_sortable):
        model, tier, window = key
        results.append(
            {
                "currency": "USD",
                "amount": decimal_text(groups[key]),
                "workspace_id": None,
                "description": f"{model} Usage" if described else None,
                "cost_type": "tokens" if described else None,
                "context_window": window,
                "model": model,
                "service_tier": tier,
                "token_type": None,
                "inference_geo": "not_available" if described else None,
            }
        )
    return results


def cents(usd: float) -> Decimal:
    """A ledger cost (float USD, summed from nano-dollars) as exact cents."""
    return (Decimal(repr(usd)) * 100).quantize(NANO_CENTS)


def decimal_text(amount: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: "123.45", "0"."""
    text = format(amount.quantize(NANO_CENTS), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _passes(values: dict[str, str | None], filters: dict[str, set[str]]) -> bool:
    return all(values[dimension] in kept for dimension, kept in filters.items())


def _sortable(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is not None, value or "") for value in key)
