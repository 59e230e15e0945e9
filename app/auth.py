"""API keys -> tenants. Keys are compared in constant time; a tenant is named by a key digest."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from .errors import invalid_api_key


@dataclass(frozen=True)
class Tenant:
    id: str


ANONYMOUS = Tenant("anonymous")


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


def authenticate(request: Request) -> Tenant:
    """FastAPI dependency: the caller's tenant, or 401 in the API's envelope."""
    keys: list[str] = request.app.state.gateway.settings.api_key_list
    if not keys:
        return ANONYMOUS
    presented = (presented_key(request) or "").encode()
    matched = False
    for key in keys:  # no early exit: every key is compared, whichever matches
        matched |= hmac.compare_digest(presented, key.encode())
    if not presented or not matched:
        raise invalid_api_key()
    return Tenant("key-" + hashlib.sha256(presented).hexdigest()[:16])
