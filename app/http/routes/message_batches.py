"""Anthropic's Message Batches API (errors in Anthropic's envelope, as on every /v1/messages* path).

    POST   /v1/messages/batches                 create: {"requests": [{"custom_id", "params"}]}
    GET    /v1/messages/batches                 list, newest first (before_id, after_id, limit)
    GET    /v1/messages/batches/{id}            the batch, with its request counts
    POST   /v1/messages/batches/{id}/cancel
    DELETE /v1/messages/batches/{id}            only once it has ended
    GET    /v1/messages/batches/{id}/results    JSONL, one line per request, in order

The batch runs in the background (app/batches/runner.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ...batches import anthropic
from ...batches.model import MESSAGES, Batch
from ...core.bodies import read_json, whole_number
from ...core.errors import GatewayError, invalid_request
from ...doors import batch as doors
from ...doors.checks import CREDENTIAL_HEADER
from .. import openapi
from ..deps import GatewayDep, TenantDep

router = APIRouter()

STATUSES = (400, 401, 403, 404)
PATH = "/v1/messages/batches"
RESULTS_PAGE = 500  # requests' results read from the store at a time


def not_found(batch_id: str) -> GatewayError:
    return GatewayError(404, f"No message batch '{batch_id}'.", "not_found_error", "not_found", "message_batch_id")


def no_credential_header(request: Request) -> None:
    """A batch runs later, with the key's stored credential: a per-request one is never stored."""
    if request.headers.get(CREDENTIAL_HEADER) is not None:
        raise invalid_request(
            f"Batches run later, with the Claude credential stored with the API key (or the gateway's): "
            f"{CREDENTIAL_HEADER} is not kept, so it cannot be used for a batch.",
            CREDENTIAL_HEADER,
        )


async def owned(gateway: GatewayDep, tenant_id: str, batch_id: str) -> Batch:
    batch = await gateway.batches.store.get(batch_id)
    if batch is None or batch.tenant != tenant_id or batch.api != anthropic.API:
        raise not_found(batch_id)
    return batch


def page_size(limit: str) -> int:
    """`limit` as a page size (read here, so that a bad one is a 400 in the door's envelope)."""
    count = whole_number(limit)
    if count is None or not 1 <= count <= 1000:
        raise invalid_request("'limit' must be a whole number from 1 to 1000.", "limit", "invalid_value")
    return count


def base(request: Request) -> str:
    return str(request.base_url)


@router.post(PATH, **openapi.operation(anthropic.CreateMessageBatch, (*STATUSES, 429), anthropic=True))
async def create(request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    no_credential_header(request)
    settings, bounds = gateway.settings, gateway.batches.bounds
    await bounds.check_open(tenant.id)  # before the body's work; again with the add
    requests = await anthropic.requests_of(
        await read_json(request, settings),
        settings.batch_max_requests,
        doors.checking(gateway.files, tenant.id, MESSAGES, settings.strict_params),
    )
    batch = anthropic.new_batch(tenant.id, tenant.key_id, settings.batch_completion_window)
    async with bounds.creating:
        await bounds.check_open(tenant.id)
        await gateway.batches.store.add(batch, requests)
    gateway.batches.poke()
    return anthropic.shown(await owned(gateway, tenant.id, batch.id), base(request))


@router.get(PATH, **openapi.operation(statuses=STATUSES, anthropic=True))
async def listed(
    request: Request,
    gateway: GatewayDep,
    tenant: TenantDep,
    limit: str = "20",
    before_id: str | None = None,
    after_id: str | None = None,
) -> dict[str, Any]:
    found = await gateway.batches.store.listed(tenant.id, anthropic.API)
    chosen, more = anthropic.page(found, page_size(limit), before_id, after_id)
    data = [anthropic.shown(b, base(request)) for b in await gateway.batches.store.counted(chosen)]
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


@router.get(PATH + "/{batch_id}", **openapi.operation(statuses=STATUSES, anthropic=True))
async def retrieve(request: Request, batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return anthropic.shown(await owned(gateway, tenant.id, batch_id), base(request))


@router.post(PATH + "/{batch_id}/cancel", **openapi.operation(statuses=STATUSES, anthropic=True))
async def cancel(request: Request, batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    await gateway.batches.cancel(await owned(gateway, tenant.id, batch_id))
    return anthropic.shown(await owned(gateway, tenant.id, batch_id), base(request))


@router.delete(PATH + "/{batch_id}", **openapi.operation(statuses=STATUSES, anthropic=True))
async def delete(batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    batch = await owned(gateway, tenant.id, batch_id)
    if not batch.ended:
        raise invalid_request(
            f"Message batch '{batch_id}' is still processing: a batch can be deleted once it has ended; "
            "cancel it first.",
            "message_batch_id",
        )
    await gateway.batches.store.delete(batch_id)
    return {"id": batch_id, "type": "message_batch_deleted"}


@router.get(PATH + "/{batch_id}/results", **openapi.operation(statuses=STATUSES, anthropic=True))
async def results(batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> StreamingResponse:
    batch = await owned(gateway, tenant.id, batch_id)
    if not batch.ended:
        raise invalid_request(
            f"Message batch '{batch_id}' has not ended yet: its results are there once processing_status is 'ended'.",
            "message_batch_id",
        )
    return StreamingResponse(_lines(gateway, batch_id), media_type="application/x-jsonl")


async def _lines(gateway: GatewayDep, batch_id: str) -> AsyncIterator[str]:
    """The results' lines, RESULTS_PAGE requests read at a time (all at once, 100,000 results and
    their lines were held in memory together)."""
    start = 0
    while rows := await gateway.batches.store.results(batch_id, start, RESULTS_PAGE):
        yield "".join(anthropic.result_line(*row) for row in rows)
        start += RESULTS_PAGE
