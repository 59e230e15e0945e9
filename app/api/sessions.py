"""Session management: list, inspect, delete, stats. A tenant sees only its own sessions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..auth import ANONYMOUS, Tenant, authenticate
from . import openapi

router = APIRouter()


@router.get("/v1/sessions", **openapi.operation(statuses=(401, 403)))
async def list_sessions(request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    registry = request.app.state.gateway.sessions.registry
    sessions = sorted(registry.list(tenant.id), key=lambda s: s.last_used, reverse=True)
    return {"object": "list", "data": [s.summary(registry.ttl) for s in sessions]}


@router.get("/v1/sessions/stats", **openapi.operation(statuses=(401, 403)))
async def session_stats(request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    """The caller's own figures; the whole engine's (every tenant's processes) only in keyless mode."""
    gateway = request.app.state.gateway
    registry = gateway.sessions.registry
    mine = None if tenant is ANONYMOUS else [session.uid for session in registry.list(tenant.id)]
    return {**registry.stats(tenant.id), "gateway": gateway.engine.stats(mine)}


@router.get("/v1/sessions/{session_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_session(session_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    registry = request.app.state.gateway.sessions.registry
    session = registry.get(tenant.id, session_id)
    messages = [{"role": m.role, "content": m.content} for m in session.messages]
    return {
        **session.summary(registry.ttl),
        "system": session.system,
        "user": session.user,
        "metadata": session.metadata,
        "messages": messages,
    }


@router.delete("/v1/sessions/{session_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_session(session_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    request.app.state.gateway.sessions.registry.delete(tenant.id, session_id)
    return {"id": session_id, "object": "session.deleted", "deleted": True}
