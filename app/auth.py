"""API keys -> tenants. Keys are compared by digest in constant time; a tenant is named by a key digest."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from .errors import GatewayError, invalid_api_key
from .loopback import is_loopback_authority, is_loopback_origin, is_loopback_peer


@dataclass(frozen=True)
class Tenant:
    id: str


ANONYMOUS = Tenant("anonymous")


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


def keyless_guard(client_host: str | None, host_header: str | None, origin: str | None) -> GatewayError | None:
    """Without API keys the gateway serves this machine only, and no web page in its browser.

    - clients must come from loopback (even if someone starts uvicorn on 0.0.0.0 by hand);
    - the Host header must name loopback: a DNS-rebinding page reaches 127.0.0.1 under its own name;
    - a cross-origin Origin header means a web page is calling; browsers send it on every such POST.
    What counts as loopback, and why `127.1` or `localhost.` do not, is in app/loopback.py.
    """
    if not is_loopback_peer(client_host) and client_host not in (None, "testclient"):
        reason = "from other machines"
    elif host_header is not None and not is_loopback_authority(host_header):
        reason = f"under the host name '{host_header[:100]}'"
    elif origin is not None and not is_loopback_origin(origin):
        reason = f"from web pages ({origin[:100]})"
    else:
        return None
    return GatewayError(
        403,
        f"This gateway has no API keys configured, so it does not accept requests {reason}. "
        "Set GATEWAY_API_KEYS to serve them.",
        "permission_error",
        "keyless_gateway",
    )


def key_matches(presented: str, keys: list[str]) -> bool:
    """Whether `presented` is one of `keys`, in time that tells nothing about either.

    SHA-256 digests are compared, never the raw strings: `hmac.compare_digest` on strings of
    different lengths returns at once, which would tell a caller how long the keys are. Every key
    is compared (no early exit), so the time does not say which key matched either.
    """
    digest = hashlib.sha256(presented.encode()).digest()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(digest, hashlib.sha256(key.encode()).digest())
    return matched and bool(presented)


def tenant_for(presented: str | None, keys: list[str]) -> Tenant:
    """The tenant a presented key names: anonymous without keys configured, else 401 unless it is one."""
    if not keys:
        return ANONYMOUS
    if not key_matches(presented or "", keys):
        raise invalid_api_key()
    return Tenant("key-" + hashlib.sha256((presented or "").encode()).hexdigest()[:16])
