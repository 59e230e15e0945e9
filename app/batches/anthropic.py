"""Anthropic's Message Batches in and out: the create request, the MessageBatch object, its list
page, and the results' JSONL lines.

One deliberate difference: `request_counts` move as requests end (Anthropic's move only once the
whole batch has ended), so that a client sees progress; they always add up to the total.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from ..core.bodies import parse
from ..core.errors import GatewayError, invalid_request
from ..core.wire import Wire
from ..dialects import request_rules as common
from .model import CANCELED, ERRORED, EXPIRED, MESSAGES, PENDING, SUCCEEDED, Batch, BatchRequest

API = "anthropic"
CUSTOM_ID = r"^[a-zA-Z0-9_-]{1,64}$"
YIELD_EVERY = 500  # requests checked between two turns of the event loop's other tasks


class BatchRequestParam(BaseModel):
    custom_id: str = Field(pattern=CUSTOM_ID)
    params: dict[str, Any]


class CreateMessageBatch(Wire):
    """POST /v1/messages/batches: each request's `params` is a Messages API request."""

    requests: list[BatchRequestParam] = Field(min_length=1)


async def requests_of(
    data: dict[str, Any], most: int, check: Callable[[dict[str, Any]], Awaitable[object]]
) -> list[BatchRequest]:
    """The batch's requests, each `check`ed as a Messages request, its file ids looked up, not read
    (app/doors/batch.py `checking`) (400 naming the first bad one)."""
    body = parse(CreateMessageBatch, data)
    if len(body.requests) > most:
        raise invalid_request(f"A batch holds at most {most} requests.", "requests", "invalid_value")
    seen: set[str] = set()
    for i, request in enumerate(body.requests):
        if request.custom_id in seen:
            raise invalid_request(
                f"requests[{i}].custom_id: duplicate '{request.custom_id}'; each request's custom_id must be "
                "unique in its batch.",
                f"requests[{i}].custom_id",
                "invalid_value",
            )
        seen.add(request.custom_id)
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let the other requests in: 100,000 checks take seconds
        try:
            await check(request.params)
        except GatewayError as error:
            where = f"requests[{i}].params"
            error.param = f"{where}.{error.param}" if error.param else where
            error.message = f"{error.param}: {error.message}"  # Anthropic's envelope has no param
            raise
    return [BatchRequest(r.custom_id, r.params) for r in body.requests]


def new_id() -> str:
    return "msgbatch_" + secrets.token_hex(12)


def rfc3339(at: float | None) -> str | None:
    return None if at is None else common.rfc3339(at)


def status(batch: Batch) -> str:
    if batch.ended:
        return "ended"
    return "canceling" if batch.cancel_initiated_at is not None else "in_progress"


def shown(batch: Batch, base_url: str) -> dict[str, Any]:
    """The MessageBatch object; `results_url` is absolute (the client fetches it as it is)."""
    counts = batch.counts
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": status(batch),
        "request_counts": {
            "processing": counts.get(PENDING, 0),
            "succeeded": counts.get(SUCCEEDED, 0),
            "errored": counts.get(ERRORED, 0),
            "canceled": counts.get(CANCELED, 0),
            "expired": counts.get(EXPIRED, 0),
        },
        "ended_at": rfc3339(batch.ended_at),
        "created_at": rfc3339(batch.created),
        "expires_at": rfc3339(batch.expires_at),
        "archived_at": None,
        "cancel_initiated_at": rfc3339(batch.cancel_initiated_at),
        "results_url": f"{base_url.rstrip('/')}/v1/messages/batches/{batch.id}/results" if batch.ended else None,
    }


def result_line(custom_id: str, state: str, result: dict[str, Any] | None) -> str:
    outcome: dict[str, Any] = {"type": state}
    if state == SUCCEEDED and result is not None:
        outcome["message"] = result["body"]
    elif state == ERRORED and result is not None:
        outcome["error"] = result["body"]
    return json.dumps({"custom_id": custom_id, "result": outcome}) + "\n"


def page(found: list[Batch], limit: int, before_id: str | None, after_id: str | None) -> tuple[list[Batch], bool]:
    """Anthropic's paging over batches newest first: `after_id` gives the page after (older than)
    that batch, `before_id` the page before (newer than) it; and whether there are more that way."""
    ids = [b.id for b in found]
    for cursor in (after_id, before_id):
        if cursor is not None and cursor not in ids:
            raise invalid_request(
                f"No message batch '{cursor}' to page from.", "after_id" if cursor == after_id else "before_id"
            )
    if after_id is not None:
        rest = found[ids.index(after_id) + 1 :]
        return rest[:limit], len(rest) > limit
    if before_id is not None:
        rest = found[: ids.index(before_id)]
        return rest[-limit:], len(rest) > limit
    return found[:limit], len(found) > limit


def new_batch(tenant: str, key_id: str | None, window: float) -> Batch:
    now = time.time()
    return Batch(new_id(), API, tenant, key_id, MESSAGES, now, now + window)
