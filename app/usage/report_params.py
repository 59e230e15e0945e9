"""The query of an Anthropic Admin-API style report (GET /v1/organizations/usage_report/messages,
GET /v1/organizations/cost_report), read and checked: every bad value is a 400, never a 500.

Buckets are snapped to the start of their UTC minute, hour or day; the report covers the buckets
that start in [starting_at, ending_at) (ending_at: now by default), `limit` of them per page. A
page token names the first bucket of its page ("page_" + base64 of its RFC 3339 start, as
Anthropic's look); the client sends it with the same other parameters.
"""

from __future__ import annotations

import base64
import calendar
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..core.errors import GatewayError, invalid_request

# The moments a report may name: from the epoch to the start of 9999 (its last bucket still ends
# in a year a date can hold).
FIRST_MOMENT, LAST_MOMENT = 0.0, float(calendar.timegm((9999, 1, 1, 0, 0, 0)))
WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
# bucket_width: (default limit, max limit), as Anthropic's reference has them.
USAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
COST_LIMITS = {"1d": (7, 31)}
USAGE_GROUPS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
)
COST_GROUPS = ("workspace_id", "description")
# The usage report's filters: parameter -> (the dimension it filters, its allowed values or None).
USAGE_FILTERS: dict[str, tuple[str, frozenset[str] | None]] = {
    "api_key_ids": ("api_key_id", None),
    "workspace_ids": ("workspace_id", None),
    "models": ("model", None),
    "service_tiers": (
        "service_tier",
        frozenset({"standard", "batch", "priority", "priority_on_demand", "flex", "flex_discount"}),
    ),
    "context_window": ("context_window", frozenset({"0-200k", "200k-1M"})),
    "inference_geos": ("inference_geo", frozenset({"global", "us", "not_available"})),
    "speeds": ("speed", frozenset({"fast", "standard"})),
    "account_ids": ("account_id", None),
    "service_account_ids": ("service_account_id", None),
}


@dataclass
class ReportQuery:
    width: int  # seconds
    start: int  # the first bucket of this page
    end: float  # exclusive: the last bucket starts before it
    limit: int
    group_by: list[str] = field(default_factory=list)
    filters: dict[str, set[str]] = field(default_factory=dict)  # dimension -> the values kept

    @property
    def page_end(self) -> int:
        """The end of this page's last bucket."""
        last = self.start + self.limit * self.width
        return min(last, self.start + _buckets_before(self.start, self.end, self.width) * self.width)

    @property
    def has_more(self) -> bool:
        return self.page_end < self.end

    def next_page(self) -> str | None:
        return page_token(self.page_end) if self.has_more else None


Params = Mapping[str, Sequence[str]]  # a query parameter's values, as given (repeatable ones too)


def usage_query(params: Params) -> ReportQuery:
    return _query(params, USAGE_LIMITS, USAGE_GROUPS, USAGE_FILTERS)


def cost_query(params: Params) -> ReportQuery:
    return _query(params, COST_LIMITS, COST_GROUPS, {})


def _query(
    params: Params,
    limits: dict[str, tuple[int, int]],
    groups: tuple[str, ...],
    filters: dict[str, tuple[str, frozenset[str] | None]],
) -> ReportQuery:
    width_name = _one(params, "bucket_width") or "1d"
    if width_name not in limits:
        widths = ", ".join(f"'{name}'" for name in limits)
        raise invalid_request(f"'bucket_width' must be one of {widths}, not '{width_name[:20]}'.", "bucket_width")
    width = WIDTHS[width_name]
    starting_at = _one(params, "starting_at")
    if not starting_at:
        raise invalid_request("'starting_at' is required (an RFC 3339 timestamp).", "starting_at")
    starting = rfc3339(starting_at, "starting_at")
    first = int(starting // width * width)
    ending_at = _one(params, "ending_at")
    end = rfc3339(ending_at, "ending_at") if ending_at else time.time()
    if end <= starting:  # as sent: not the bucket it snaps to (12:10 does not come after 12:30)
        raise invalid_request("'ending_at' (by default now) must come after 'starting_at'.", "ending_at")
    default, most = limits[width_name]
    limit = _limit(_one(params, "limit"), default, most, width_name)
    start = first
    page = _one(params, "page")
    if page:
        start = _page_start(page, first, end, width)
    group_by = _many(params, "group_by")
    for name in group_by:
        if name not in groups:
            raise invalid_request(
                f"'group_by' takes {', '.join(groups)}; not '{name[:40]}'.", "group_by", "invalid_value"
            )
    kept: dict[str, set[str]] = {}
    for param, (dimension, allowed) in filters.items():
        values = _many(params, param)
        for value in values:
            if allowed is not None and value not in allowed:
                raise invalid_request(
                    f"'{param}' takes {', '.join(sorted(allowed))}; not '{value[:40]}'.", param, "invalid_value"
                )
        if values:
            kept[dimension] = set(values)
    return ReportQuery(width, start, end, limit, list(dict.fromkeys(group_by)), kept)


def rfc3339(value: str, param: str) -> float:
    """An RFC 3339 timestamp with its offset ("2025-08-01T00:00:00Z") as epoch seconds, from
    1970 to 9998 (a moment whose buckets a date cannot hold is a 400, not a 500)."""
    seconds: float | None = None
    try:
        moment = datetime.fromisoformat(value.upper())
        if moment.tzinfo is not None and "T" in value.upper():
            seconds = moment.timestamp()
    except (ValueError, OverflowError):
        seconds = None
    if seconds is None or not FIRST_MOMENT <= seconds < LAST_MOMENT:
        raise invalid_request(
            f"'{param}' must be an RFC 3339 timestamp with a time zone, from 1970 to 9998, like "
            f"2025-08-01T00:00:00Z; not '{value[:40]}'.",
            param,
            "invalid_value",
        )
    return seconds


def stamp(moment: float) -> str:
    """Epoch seconds as the reports write them: RFC 3339 in UTC, "2025-08-01T00:00:00Z"."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_token(start: int) -> str:
    return "page_" + base64.b64encode(stamp(start).encode()).decode()


def _page_start(token: str, first: int, end: float, width: int) -> int:
    """The first bucket a page token names; it must be a bucket of this very query."""
    start: float | None = None
    if token.startswith("page_"):
        try:
            start = rfc3339(base64.b64decode(token[5:], validate=True).decode(), "page")
        except (GatewayError, ValueError):  # binascii.Error, UnicodeDecodeError, a non-ASCII token
            start = None
    if start is None or start % width or not first <= start < end:
        raise invalid_request(
            "'page' is not a next_page token of this report (send it with the same starting_at, "
            "ending_at and bucket_width).",
            "page",
            "invalid_value",
        )
    return int(start)


def _limit(value: str | None, default: int, most: int, width_name: str) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= most:
        raise invalid_request(
            f"'limit' must be an integer from 1 to {most} for bucket_width '{width_name}', not '{value[:20]}'.",
            "limit",
            "invalid_value",
        )
    return limit


def _one(params: Params, name: str) -> str | None:
    values = params.get(name) or []
    return values[-1] if values else None


def _many(params: Params, name: str) -> list[str]:
    """A list parameter, sent as `name[]=a&name[]=b` (Anthropic's clients), `name=a&name=b` or
    `name=a,b`."""
    values = [*(params.get(name) or []), *(params.get(name + "[]") or [])]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _buckets_before(start: int, end: float, width: int) -> int:
    return int(max(0, -(-(end - start) // width)))
