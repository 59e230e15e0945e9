"""Session management: list, inspect, delete, stats. A tenant sees only its own sessions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..auth import Tenant, authenticate

router = APIRouter()


@router.get("/v1/sessions")
async def list_sessions(request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    registry = request.app.state.gateway.sessions.registry
    sessions = sorted(registry.list(tenant.id), key=lambda s: s.last_used, reverse=True)
    return {"object": "list", "data": [s.summary(registry.ttl) for s in sessions]}


@router.get("/v1/sessions/stats")
async def session_stats(request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    gateway = request.app.state.gateway
    return {**gateway.sessions.registry.stats(tenant.id), "gateway": gateway.engine.stats()}


@router.get("/v1/sessions/{session_id}")
async def get_session(session_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    registry = request.app.state.gateway.sessions.registry
    session = registry.get(tenant.id, session_id)
    messages = [{"role": m.role, "content": m.content} for m in session.messages]
    return {
        **session.summary(registry.ttl), "system": session.system, "user": session.user,
        "metadata": session.metadata, "messages": messages,
    }


@router.delete("/v1/sessions/{session_id}")
async def delete_session(session_id: str, request: Request, tenant: Tenant = Depends(authenticate)) -> dict:
    request.app.state.gateway.sessions.registry.delete(tenant.id, session_id)
    return {"id": session_id, "object": "session.deleted", "deleted": True}
