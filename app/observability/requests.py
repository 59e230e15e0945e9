"""One log line per HTTP request, and the requests counter: request id, key name (never the
key), session, model, door, status, time to first token, duration, tokens and cost.

RequestLog (an ASGI middleware, outermost: app/http/middleware/request_log.py) opens a
RequestRecord for the request in a context variable; the turns the request runs fill it in where
the ledger records them (`turn_ended`, a Ledger observer: the doors themselves do nothing); the
line is written once the answer (a whole stream too) has gone. Nothing of the request's headers
or body is logged, so no key or Claude credential can reach the log.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..core.turn import Turn
from ..store import UsageEntry
from ..usage.ledger import Meter
from .metrics import Metrics

log = logging.getLogger("claude_gateway.requests")


@dataclass
class RequestRecord:
    method: str
    path: str
    door: str
    started: float = field(default_factory=time.monotonic)
    request_id: str | None = None  # the first turn's id (the door's completion/message/response id)
    status: int | None = None
    key: str | None = None
    session: str | None = None
    model: str | None = None  # the metrics label of the first turn's model
    turns: int = 0
    outcome: str | None = None  # of the last turn: ok, error, cancelled
    error: str | None = None
    time_to_first_token: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0

    def fields(self) -> dict[str, Any]:
        """The log line's fields (JSON keys; `key=value` pairs in text)."""
        ttft = self.time_to_first_token
        return {
            "request_id": self.request_id or f"req_{uuid.uuid4().hex[:24]}",
            "method": self.method,
            "path": self.path,
            "door": self.door,
            "status": self.status,
            "key": self.key,
            "session": self.session,
            "model": self.model,
            "turns": self.turns,
            "outcome": self.outcome,
            "error": self.error,
            "ttft_ms": None if ttft is None else round(ttft * 1000),
            "duration_ms": round((time.monotonic() - self.started) * 1000),
            **self.usage,
            "cost_usd": round(self.cost_usd, 10),
        }


CURRENT: ContextVar[RequestRecord | None] = ContextVar("claude_gateway_request", default=None)


class TurnNotes:
    """A Ledger observer that puts each turn into the record of the request running it."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, entry: UsageEntry, turn: Turn, meter: Meter, key_name: str) -> None:
        record = CURRENT.get()
        if record is None:
            return  # a turn outside any request
        record.turns += 1
        record.request_id = record.request_id or turn.request_id or None
        record.key = key_name
        record.session = record.session or entry.session_id
        record.model = record.model or self.metrics.model_label(turn.model)
        record.outcome, record.error = entry.status, entry.error or record.error
        ttft = meter.time_to_first_token
        if ttft is not None and (record.time_to_first_token is None or ttft < record.time_to_first_token):
            record.time_to_first_token = ttft
        for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            record.usage[name] = record.usage.get(name, 0) + getattr(entry, name)
        record.cost_usd += entry.cost_usd
