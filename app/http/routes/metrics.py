"""GET /metrics: the gateway's Prometheus metrics (app/observability/metrics.py), in the text
exposition format.

They cover every key's traffic, so an ordinary API key does not read them: the admin key or
GATEWAY_METRICS_TOKEN does (as a Bearer token). A keyless gateway (this machine only, KeylessGuard)
serves them to anyone on it unless a metrics token is set.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...core.errors import GatewayError, invalid_api_key
from ...tenancy.auth import key_matches, presented_key
from ..deps import GatewayDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, gateway: GatewayDep) -> Response:
    settings = gateway.settings
    if settings.keyed or settings.metrics_token:
        if not settings.admin_key and not settings.metrics_token:
            raise GatewayError(
                403,
                "Metrics are off: set GATEWAY_METRICS_TOKEN (or GATEWAY_ADMIN_KEY) to read them.",
                "permission_error",
                "metrics_disabled",
            )
        presented = presented_key(request) or ""
        token = [settings.metrics_token] if settings.metrics_token else []
        if not (gateway.keys.is_admin(presented) or key_matches(presented, token)):
            raise invalid_api_key()
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
