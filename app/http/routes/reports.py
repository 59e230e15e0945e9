"""The Anthropic Admin-API style reports, answered from the gateway's ledger (admin key only):
GET /v1/organizations/usage_report/messages and GET /v1/organizations/cost_report.

The query is read by app/usage/report_params.py and the report folded by app/usage/reports.py;
this router asks the store for the page's buckets in between.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...core.errors import invalid_request
from ...store import BucketTotal, BucketWidthUnsupported
from ...usage.report_params import ReportQuery, cost_query, usage_query
from ...usage.reports import cost_report, usage_report
from ..deps import AdminDep, GatewayDep

router = APIRouter(prefix="/v1/organizations", dependencies=[AdminDep])


@router.get("/usage_report/messages")
async def messages_usage_report(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    query = usage_query(_params(request))
    return usage_report(query, await _buckets(gateway.store, query))


@router.get("/cost_report")
async def organization_cost_report(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    query = cost_query(_params(request))
    return cost_report(query, await _buckets(gateway.store, query))


def _params(request: Request) -> dict[str, list[str]]:
    return {name: request.query_params.getlist(name) for name in request.query_params}


async def _buckets(store: Any, query: ReportQuery) -> list[BucketTotal]:
    """The ledger's totals of this page's buckets; a width the ledger does not keep is a 400."""
    try:
        totals: list[BucketTotal] = await store.buckets(query.start, query.page_end, query.width)
    except BucketWidthUnsupported as refused:
        raise invalid_request(str(refused), "bucket_width", "bucket_width_unsupported") from None
    return totals
