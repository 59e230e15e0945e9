"""The usage ledger: every turn that reached Claude is recorded once it ends, with Claude Code's
own accounting (tokens from the result's usage, USD from its total_cost_usd, which includes what
hosted web searches cost): answered turns, failed ones and those the client cut short (with what
Claude had streamed by then, priced at the model's list price since no result came), streamed or
not, each of chat's `n` answers on its own.
Recording a turn settles the budget reservation it made when it started (tenancy/limits.py).
The hosted tool calls that ran (a ToolResult with `hosted` that is no error: a refused call, past
max_uses or outside the domains, did not run) are counted by tool (store HOSTED_CALLS).

Also the reports of /v1/usage and /admin/usage: the ledger summed by key, model or day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.events import Event, Finish, TextDelta, ThinkingDelta, ToolCallStart, ToolResult, Usage
from ..core.prices import price
from ..core.turn import Turn
from ..store import HOSTED_CALLS, HOSTED_COUNTS, TOKENS, Store, UsageEntry, UsageTotal
from .model_names import namer

log = logging.getLogger(__name__)


@dataclass
class Meter:
    """What one turn's events reported: tokens and cost, summed over its answers."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    model: str | None = None
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None  # when Claude's first output (text, thinking, a call) came
    unpriced: Usage = field(default_factory=Usage)  # tokens of a turn cut short, priced when recorded
    hosted_calls: Counter[str] = field(default_factory=Counter)  # by core/hosted.py name: calls that ran

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    def partial(self, usage: Usage, model: str | None = None) -> None:
        """What a turn that ended without a Finish had used: Claude Code reports cost only in its
        result, so these tokens are priced at the model's list price (core/prices.py)."""
        self.usage = self.usage + usage
        self.model = self.model or model
        self.unpriced = self.unpriced + usage

    def see(self, event: Event) -> None:
        if self.first_token is None and isinstance(event, (TextDelta, ThinkingDelta, ToolCallStart)):
            self.first_token = time.monotonic()
        if isinstance(event, Finish):
            self.usage = self.usage + event.usage
            self.cost_usd += event.cost_usd
            self.model = event.model or self.model
        elif isinstance(event, ToolResult) and event.hosted in HOSTED_CALLS and not event.is_error:
            self.hosted_calls[event.hosted] += 1


# Told of every turn the ledger records (metrics and the request log: app/observability).
Observer = Callable[[UsageEntry, Turn, Meter, str], None]


class Ledger:
    """Writes each turn's entry. `known_models`: the engine's list of the names it knows, which
    bounds the model names recorded (model_names.py)."""

    def __init__(self, store: Store, known_models: Callable[[], set[str]] | None = None) -> None:
        self.store = store
        self.observers: list[Observer] = []
        self.model_name = namer(known_models)

    async def record(
        self,
        turn: Turn,
        key_id: str | None,
        door: str,
        session_id: str | None,
        meter: Meter,
        status: str,
        error: str | None = None,
        key_name: str = "anonymous",
        holds: Sequence[str] = (),
    ) -> None:
        """Write one turn's entry, and tell the observers; a failure to write or observe is logged,
        never the client's problem. `key_name`: the caller's key by name (never the key itself).
        `holds`: the budget reservations the turn made (tenancy/limits.py), settled by this entry in the
        same write. Tokens no answer priced (a turn cut short) are priced at the model's rates."""
        model = meter.model or turn.model
        cost = meter.cost_usd + (price(model, meter.unpriced) if meter.unpriced != Usage() else 0.0)
        entry = UsageEntry(
            at=time.time(),
            key_id=key_id,
            tenant=turn.tenant,
            session_id=session_id,
            model=self.model_name(meter.model, turn.model),
            door=door,
            input_tokens=meter.usage.input_tokens,
            output_tokens=meter.usage.output_tokens,
            cache_read_input_tokens=meter.usage.cache_read_input_tokens,
            cache_creation_input_tokens=meter.usage.cache_creation_input_tokens,
            cost_usd=cost,
            duration_ms=int((time.monotonic() - meter.started) * 1000),
            status=status,
            error=error,
            **{count: meter.hosted_calls[hosted] for hosted, count in HOSTED_CALLS.items()},
        )
        for observe in self.observers:
            try:
                observe(entry, turn, meter, key_name)
            except Exception:
                log.exception("could not observe a turn")
        # Shielded: a turn cut short by its client is recorded even as its task is being cancelled.
        await asyncio.shield(self._write(entry, holds))

    async def _write(self, entry: UsageEntry, holds: Sequence[str]) -> None:
        try:
            await self.store.record(entry, holds)
        except Exception:
            log.exception("could not record a turn's usage")
            if holds:  # a reservation must not outlive its turn (SQLite keeps it till a restart)
                try:
                    await self.store.release(entry.tenant, holds)
                except Exception:
                    log.exception("could not release a turn's budget reservation")


COUNTS = ("requests", *TOKENS, *HOSTED_COUNTS)


def grouped(totals: Iterable[UsageTotal], by: str) -> list[dict[str, Any]]:
    """The totals summed by `by`: "key" (key id, or tenant for unmanaged keys), "model" or "day"."""
    groups: dict[str, dict[str, Any]] = {}
    for total in totals:
        name = {"key": total.key_id or total.tenant, "model": total.model, "day": total.day}[by]
        group = groups.setdefault(name, {by: name, **dict.fromkeys(COUNTS, 0), "cost_usd": 0.0})
        for count in COUNTS:
            group[count] += getattr(total, count)
        group["cost_usd"] += total.cost_usd
    for group in groups.values():
        group["total_tokens"] = sum(group[c] for c in TOKENS)
        group["cost_usd"] = round(group["cost_usd"], 10)
    return sorted(groups.values(), key=lambda group: str(group[by]))


def total(totals: Iterable[UsageTotal]) -> dict[str, Any]:
    """Everything in `totals` summed."""
    groups = grouped([replace(t, day="all") for t in totals], "day")
    summed = groups[0] if groups else grouped([UsageTotal("", None, "all", "", 0, 0, 0, 0, 0, 0.0)], "day")[0]
    del summed["day"]
    return summed
