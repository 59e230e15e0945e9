"""GET /v1/usage: the caller's own usage, by day and by model, from the ledger (app/usage/ledger.py).

A period is `?start=&end=`, each a UTC date (YYYY-MM-DD, `end` included) or epoch seconds;
by default the current calendar month (UTC).
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from ...core.errors import GatewayError, invalid_request
from ...store import UsageTotal
from ...tenancy.limits import period
from ...usage.ledger import grouped, total
from ..deps import GatewayDep, TenantDep

router = APIRouter()
FIRST_MOMENT = float(calendar.timegm((1, 1, 1, 0, 0, 0)))  # 0001-01-01, as far as dates go
LAST_MOMENT = float(calendar.timegm((9999, 12, 31, 0, 0, 0)) + 86400)  # the end of 9999-12-31


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
    """A date or epoch seconds within the years 1-9999 (as dates are): float() also reads 'nan',
    'inf' and '1e308', which no period can end at (and int() of the first two is a 500)."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            day = datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise _bad_moment(value, param) from None
        return calendar.timegm(day.timetuple()) + (86400 if end_of_day else 0)
    if not FIRST_MOMENT <= seconds <= LAST_MOMENT:  # False for nan too
        raise _bad_moment(value, param)
    return seconds


def _bad_moment(value: str, param: str) -> GatewayError:
    return invalid_request(
        f"'{param}' must be a date (YYYY-MM-DD) or epoch seconds in the years 1 to 9999, not '{value[:40]}'.",
        param,
        "invalid_value",
    )
