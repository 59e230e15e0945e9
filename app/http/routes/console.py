"""The console (/console): a page, one script and one stylesheet from http/console/, and the one
thing the page asks the gateway besides the APIs it drives: who the presented key is (GET /v1/me).

The page is static and public (it holds no data; everything it shows comes from the APIs with the
key the user signs in with). It is served with a strict Content-Security-Policy: scripts and styles
from this origin only, no inline code, no framing, so an injected string can never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ...core.errors import GatewayError
from ...tenancy.auth import ADMIN, ANONYMOUS
from ..deps import ViewerDep

router = APIRouter()

FILES = Path(__file__).resolve().parents[1] / "console"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/console", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(FILES / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/console/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    """console.js and console.css only: the name is looked up, never joined into a path."""
    if name not in ASSETS:
        raise GatewayError(404, f"No console file '{name[:100]}'.", "invalid_request_error", "not_found")
    return FileResponse(FILES / name, media_type=ASSETS[name], headers=SECURITY_HEADERS)


@router.get("/v1/me")
async def me(tenant: ViewerDep) -> dict[str, Any]:
    """Who the presented key is: the admin key, a managed key (id, name, policy; never a secret),
    a GATEWAY_API_KEYS key, or nobody in keyless mode."""
    policy = tenant.policy.model_dump() if tenant.policy is not None else None
    key = {"id": tenant.key_id, "name": tenant.name, "policy": policy} if tenant.key_id else None
    return {
        "object": "caller",
        "admin": tenant is ADMIN,
        "keyless": tenant is ANONYMOUS,
        "tenant": None if tenant is ADMIN else tenant.id,
        "key": key,
    }
