"""GET /health, /health/live and /health/ready (no Claude call, no key: for load balancers and
the kubelet), and GET /v1/auth/status (which credential, no secret)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...doors.gateway import Gateway
from ...tenancy.auth import ADMIN, ANONYMOUS
from ..deps import GatewayDep, ViewerDep

log = logging.getLogger(__name__)
router = APIRouter()
STORE_TIMEOUT = 5.0  # seconds; a store slower than this is not ready to serve


@router.get("/health")
async def health(gateway: GatewayDep) -> dict[str, object]:
    """Up; in demo mode it says so (`"demo": true`: canned answers, no Claude behind them)."""
    return {"status": "ok", "demo": True} if gateway.settings.demo else {"status": "ok"}


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and its event loop answers; nothing else is checked."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(gateway: GatewayDep) -> JSONResponse:
    """200 once Claude Code has answered its probe and the store answers a query; 503 otherwise,
    and while draining. Each check says ok or why not, in words that reveal nothing of the setup."""
    checks = {
        "claude_code": "ok" if gateway.engine.ready() else "not_probed",
        "store": await store_check(gateway),
        "draining": "yes" if gateway.traffic.draining else "no",
    }
    failed = gateway.traffic.draining or checks["claude_code"] != "ok" or checks["store"] != "ok"
    status = "draining" if gateway.traffic.draining else "not_ready" if failed else "ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if failed else 200)


async def store_check(gateway: Gateway) -> str:
    try:
        await asyncio.wait_for(gateway.store.ping(), STORE_TIMEOUT)
    except Exception as exc:  # the operator's log has the reason, the probe only the verdict
        log.warning("readiness: the store did not answer: %r", exc)
        return "unreachable"
    return "ok"


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
