"""GET /health (no Claude call) and GET /v1/auth/status (which credential, no secret)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..auth import authenticate

router = APIRouter()


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@router.get("/v1/auth/status", dependencies=[Depends(authenticate)])
async def auth_status(request: Request) -> dict:
    return await request.app.state.gateway.engine.auth_status()
