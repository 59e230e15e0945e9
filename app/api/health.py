"""GET /health (no Claude call) and GET /v1/auth/status (which credential, no secret)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..auth import ADMIN, ANONYMOUS
from .deps import GatewayDep, ViewerDep

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/auth/status")
async def auth_status(gateway: GatewayDep, tenant: ViewerDep) -> dict[str, Any]:
    status = await gateway.engine.auth_status()
    return status if tenant is ANONYMOUS or tenant is ADMIN else for_tenant(status)


def for_tenant(status: dict[str, Any]) -> dict[str, Any]:
    """What a keyed client may know: whether a credential is configured and of which kind.

    The account behind it (email, organisation, plan) and where its files are belong to the
    operator: they are shown in keyless mode (this machine only) and to the admin key, to any
    other key never.
    """
    credential = status.get("credential") or {}
    claude_code = status.get("claude_code") or {}
    return {
        "credential": {"configured": bool(credential.get("configured")), "source": credential.get("source")},
        "claude_code": {"reachable": bool(claude_code.get("reachable"))},
    }
