"""Session management: list, inspect, delete, stats. A tenant sees only its own sessions."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from ...agent.request import Strict
from ...core.bodies import parse, read_json
from ...core.errors import GatewayError
from ...core.wire import SESSION_ID_PATTERN
from ...sessions.session import stats_of
from ...tenancy.auth import ADMIN, ANONYMOUS
from .. import openapi
from ..deps import GatewayDep, TenantDep, ViewerDep

router = APIRouter()


@router.get("/v1/sessions", **openapi.operation(statuses=(401, 403)))
async def list_sessions(gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    ttl = gateway.sessions.registry.ttl
    return {"object": "list", "data": [s.summary(ttl) for s in await gateway.sessions.listed(tenant.id)]}


@router.get("/v1/sessions/stats", **openapi.operation(statuses=(401, 403)))
async def session_stats(gateway: GatewayDep, tenant: ViewerDep) -> dict[str, Any]:
    """The caller's own figures; the whole gateway's (every tenant's sessions and processes, the
    spares, memory) only for the admin key and in keyless mode (this machine's operator). The
    session figures are every replica's; the process figures this replica's."""
    ttl = gateway.sessions.registry.ttl
    if tenant is ADMIN or tenant is ANONYMOUS:
        everyone = await gateway.sessions.listed(None if tenant is ADMIN else tenant.id)
        return {**stats_of(everyone, ttl), "gateway": gateway.engine.stats(None)}
    mine = await gateway.sessions.listed(tenant.id)
    return {**stats_of(mine, ttl), "gateway": gateway.engine.stats([session.uid for session in mine])}


@router.get("/v1/sessions/{session_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_session(session_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    session = await gateway.sessions.lookup(tenant.id, session_id)
    messages = [{"role": m.role, "content": m.content} for m in session.messages]
    return {
        **session.summary(gateway.sessions.registry.ttl),
        "system": session.system,
        "user": session.user,
        "metadata": session.metadata,
        "messages": messages,
    }


@router.delete("/v1/sessions/{session_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_session(session_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    """The session and its workspace. A workspace outlives a restart (and an upload makes one
    before the first turn): with no live session of that id, deleting it is deleting the session."""
    removed = await asyncio.to_thread(gateway.workspaces.remove, tenant.id, session_id)
    try:
        uid = await gateway.sessions.delete(tenant.id, session_id)
    except GatewayError:
        if removed:
            return {"id": session_id, "object": "session.deleted", "deleted": True}
        raise
    await gateway.responses.forget_session(uid)  # its responses' conversation goes with it
    return {"id": session_id, "object": "session.deleted", "deleted": True}


class ForkRequest(Strict):
    id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN, description="The new session's id.")


@router.post("/v1/sessions/{session_id}/fork", status_code=201, **openapi.operation(statuses=(400, 401, 403, 404, 409)))
async def fork_session(session_id: str, request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    """A new session with this one's conversation so far (and its workspace, in agent mode); the
    two go on independently."""
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    body = parse(ForkRequest, await read_json(request, gateway.settings)) if has_body else ForkRequest()
    forked = await gateway.sessions.fork(tenant, session_id, body.id)
    return {**forked.summary(gateway.sessions.registry.ttl), "forked_from": session_id}
