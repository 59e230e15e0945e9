"""A batch and its requests, as the store keeps them, for both APIs: Anthropic's Message Batches
and OpenAI's Batch API differ only in how they are asked for and shown (anthropic.py, openai.py).

A request is `pending` until it has run (a request that was running when the gateway stopped is
still pending, and runs again), then `succeeded`, `errored`, `canceled` or `expired`; its result is
the HTTP status and body the door would have answered. A batch has ended once none is pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING, SUCCEEDED, ERRORED, CANCELED, EXPIRED = "pending", "succeeded", "errored", "canceled", "expired"
ENDED_STATES = (SUCCEEDED, ERRORED, CANCELED, EXPIRED)

# The doors a batch request may go to.
MESSAGES, CHAT, RESPONSES = "/v1/messages", "/v1/chat/completions", "/v1/responses"


@dataclass
class BatchRequest:
    custom_id: str
    params: dict[str, Any]
    state: str = PENDING
    result: dict[str, Any] | None = None  # {"status": int, "body": dict}


@dataclass
class Batch:
    id: str
    api: str  # "anthropic" or "openai"
    tenant: str
    key_id: str | None
    endpoint: str
    created: float
    expires_at: float
    cancel_initiated_at: float | None = None
    ended_at: float | None = None
    # The API's own fields: OpenAI's metadata, input/output/error file ids, errors, completion_window.
    extra: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # requests by state

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


@dataclass
class Outcome:
    """What one request came to: its state and the door's answer."""

    state: str
    status: int
    body: dict[str, Any] | None

    @property
    def result(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body}
