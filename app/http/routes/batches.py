"""OpenAI's Batch API (errors in OpenAI's envelope).

    POST /v1/batches                 create from a purpose=batch file (POST /v1/files)
    GET  /v1/batches                 list, newest first (after, limit)
    GET  /v1/batches/{id}            the batch, with its request counts and, once ended, its files
    POST /v1/batches/{id}/cancel

The output and error files are read through GET /v1/files/{id}/content. The batch runs in the
background (app/batches/runner.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request

from ...batches import openai
from ...batches.model import Batch
from ...core.bodies import parse, read_json
from ...core.errors import GatewayError, invalid_request
from .. import openapi
from ..deps import GatewayDep, TenantDep
from .message_batches import no_credential_header, page_size

router = APIRouter()

STATUSES = (400, 401, 403, 404)


def not_found(batch_id: str) -> GatewayError:
    return GatewayError(404, f"No batch found with id '{batch_id}'.", "invalid_request_error", "not_found", "batch_id")


async def owned(gateway: GatewayDep, tenant_id: str, batch_id: str) -> Batch:
    batch = await gateway.batches.store.get(batch_id)
    if batch is None or batch.tenant != tenant_id or batch.api != openai.API:
        raise not_found(batch_id)
    return batch


@router.post("/v1/batches", **openapi.operation(openai.CreateBatch, (*STATUSES, 429)))
async def create(request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    no_credential_header(request)
    body = parse(openai.CreateBatch, await read_json(request, gateway.settings))
    openai.check(body)
    bounds = gateway.batches.bounds
    await bounds.check_open(tenant.id)  # before the file's work; again with the add
    found = await gateway.files.get(tenant.id, body.input_file_id)
    data = await gateway.files.content(tenant.id, body.input_file_id) if found is not None else None
    if found is None or data is None:
        raise invalid_request(f"No file found with id '{body.input_file_id}'.", "input_file_id", "file_not_found")
    if found.purpose != openai.INPUT_PURPOSE:
        raise invalid_request(
            f"File '{found.id}' has purpose '{found.purpose}'; a batch's input file has purpose 'batch'.",
            "input_file_id",
            "invalid_value",
        )
    settings = gateway.settings
    batch = openai.new_batch(tenant.id, tenant.key_id, body, settings.batch_completion_window)
    # In a thread: a 32 MB file of 100,000 lines takes seconds to parse, which the other requests
    # would otherwise wait for.
    requests, errors = await asyncio.to_thread(openai.read_input, data, body.endpoint, settings.batch_max_requests)
    if errors:  # a file that is not a batch input: the batch fails, nothing runs
        batch.extra["errors"], batch.ended_at, requests = errors, time.time(), []
    async with bounds.creating:
        if not errors:  # a failed batch has ended: it holds no place
            await bounds.check_open(tenant.id)
        await gateway.batches.store.add(batch, requests)
    gateway.batches.poke()
    return openai.shown(await owned(gateway, tenant.id, batch.id))


@router.get("/v1/batches", **openapi.operation(statuses=STATUSES))
async def listed(gateway: GatewayDep, tenant: TenantDep, after: str | None = None, limit: str = "20") -> dict[str, Any]:
    size = page_size(limit)
    found = await gateway.batches.store.listed(tenant.id, openai.API)
    ids = [b.id for b in found]
    if after is not None:
        if after not in ids:
            raise invalid_request(f"No batch found with id '{after}' to page from.", "after", "invalid_value")
        found = found[ids.index(after) + 1 :]
    chosen = await gateway.batches.store.counted(found[:size])
    data = [openai.shown(b) for b in chosen]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(found) > size,
    }


@router.get("/v1/batches/{batch_id}", **openapi.operation(statuses=STATUSES))
async def retrieve(batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return openai.shown(await owned(gateway, tenant.id, batch_id))


@router.post("/v1/batches/{batch_id}/cancel", **openapi.operation(statuses=STATUSES))
async def cancel(batch_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    batch = await owned(gateway, tenant.id, batch_id)
    if batch.ended:
        raise GatewayError(
            409,
            f"Cannot cancel a batch with status '{openai.status(batch)}'.",
            "invalid_request_error",
            "batch_not_cancellable",
            "batch_id",
        )
    await gateway.batches.cancel(batch)
    return openai.shown(await owned(gateway, tenant.id, batch_id))
