"""What the admin sees live besides keys and usage (the console's admin view): every tenant's
sessions, and the latest turns that failed (from the usage ledger)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...core.bodies import whole_number
from ...core.errors import invalid_request
from ..deps import AdminDep, GatewayDep

router = APIRouter(prefix="/admin", dependencies=[AdminDep])


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
