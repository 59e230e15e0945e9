"""The admin API (GATEWAY_ADMIN_KEY): managed keys, everyone's usage (GET /admin/usage), and what
the admin sees live besides (the console's admin view): every tenant's sessions, and the latest
turns that failed (from the usage ledger).

POST /admin/keys answers the new key once; nothing shows it again (only its digest is kept).
DELETE revokes it at once: its next request gets 401, and what it left goes (http/forget.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...core.bodies import parse, read_json, whole_number
from ...core.errors import invalid_request
from ...tenancy.keys import public, tenant_of
from ...tenancy.policy import KeyCreate, KeyPatch
from ..deps import AdminDep, GatewayDep
from ..forget import forget_tenant
from .usage import report, usage_period

router = APIRouter(prefix="/admin", dependencies=[AdminDep])


@router.post("/keys", status_code=201)
async def create_key(request: Request, gateway: GatewayDep) -> JSONResponse:
    body = parse(KeyCreate, await read_json(request, gateway.settings))
    record, key = await gateway.keys.create(body)
    return JSONResponse({**public(record), "key": key}, status_code=201)


@router.get("/keys")
async def list_keys(gateway: GatewayDep) -> dict[str, Any]:
    return {"object": "list", "data": [public(record) for record in await gateway.store.list_keys()]}


@router.get("/keys/{key_id}")
async def get_key(key_id: str, gateway: GatewayDep) -> dict[str, Any]:
    return public(await gateway.keys.get(key_id))


@router.patch("/keys/{key_id}")
async def update_key(key_id: str, request: Request, gateway: GatewayDep) -> dict[str, Any]:
    patch = parse(KeyPatch, await read_json(request, gateway.settings))
    return public(await gateway.keys.update(key_id, patch))


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, gateway: GatewayDep) -> dict[str, Any]:
    await gateway.keys.revoke(key_id)
    await forget_tenant(gateway, tenant_of(key_id))  # its sessions, batches, files, responses, workspaces
    return {"id": key_id, "object": "api_key.deleted", "deleted": True}


@router.get("/usage")
async def all_usage(
    gateway: GatewayDep,
    start: str | None = None,
    end: str | None = None,
    key_id: str | None = None,
    group_by: str = "key",
) -> dict[str, Any]:
    """Every key's usage (or one key's), summed by key, model or day."""
    if group_by not in ("key", "model", "day"):
        raise invalid_request("'group_by' must be 'key', 'model' or 'day'.", "group_by", "invalid_value")
    since, until = usage_period(start, end)
    totals = await gateway.store.usage(since, until, key_id=key_id)
    return report(totals, since, until, (group_by,))


@router.get("/sessions")
async def all_sessions(gateway: GatewayDep) -> dict[str, Any]:
    """Every tenant's live sessions, most recently used first, each with its tenant (a managed
    key's tenant is `key-<id>`, as /admin/keys lists it)."""
    ttl = gateway.sessions.registry.ttl
    sessions = await gateway.sessions.listed(None)
    return {"object": "list", "data": [{**s.summary(ttl), "tenant": s.tenant} for s in sessions]}


@router.get("/errors")
async def recent_errors(gateway: GatewayDep, limit: str = "20") -> dict[str, Any]:
    """The latest turns that ended in an error, newest first: who, which model and door, when.
    (`limit` is read here, so that a bad one is a 400 in the gateway's envelope.)"""
    count = whole_number(limit)
    if count is None or not 1 <= count <= 200:
        raise invalid_request("'limit' must be a whole number from 1 to 200.", "limit", "invalid_value")
    failed = await gateway.store.failures(count)
    return {"object": "list", "data": [{**vars(entry), "at": int(entry.at)} for entry in failed]}
