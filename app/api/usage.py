"""GET /v1/usage: the caller's own usage, by day and by model, from the ledger (app/policy/usage.py).

A period is `?start=&end=`, each a UTC date (YYYY-MM-DD, `end` included) or epoch seconds;
by default the current calendar month (UTC).
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from ..errors import invalid_request
from ..policy.limits import period
from ..policy.usage import grouped, total
from ..store import UsageTotal
from .deps import GatewayDep, TenantDep

router = APIRouter()


@router.get("/v1/usage")
async def my_usage(gateway: GatewayDep, tenant: TenantDep, start: str | None = None, end: str | None = None) -> Any:
    since, until = usage_period(start, end)
    totals = await gateway.store.usage(since, until, tenant=tenant.id)
    return report(totals, since, until, ("day", "model"))


def report(totals: list[UsageTotal], since: float, until: float, by: tuple[str, ...]) -> dict[str, Any]:
    return {
        "object": "usage",
        "start": int(since),
        "end": int(until),
        "total": total(totals),
        **{f"by_{name}": grouped(totals, name) for name in by},
    }


def usage_period(start: str | None, end: str | None) -> tuple[float, float]:
    month_start, month_end = period("month", time.time())
    since = _moment(start, "start") if start else month_start
    until = _moment(end, "end", end_of_day=True) if end else month_end
    if until <= since:
        raise invalid_request("'end' must come after 'start'.", "end", "invalid_value")
    return since, until


def _moment(value: str, param: str, end_of_day: bool = False) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise invalid_request(
            f"'{param}' must be a date (YYYY-MM-DD) or epoch seconds, not '{value[:40]}'.", param, "invalid_value"
        ) from None
    return calendar.timegm(day.timetuple()) + (86400 if end_of_day else 0)
