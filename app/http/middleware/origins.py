"""GATEWAY_ALLOWED_ORIGINS: the web pages that may call the gateway from a browser, by exact origin.

Without it, keyless mode takes any page on this machine (any loopback origin, any port: a local
dev server on http://localhost:3000 too, keyless.py), and keyed mode takes any page that holds a
key. With it, a request or WebSocket handshake that carries an Origin header must come from one of
the listed origins (`scheme://host[:port]`, compared exactly as browsers send them), or from the
gateway's own origin (its console), whatever the mode; otherwise 403 `origin_not_allowed` before
any route runs. Requests without an Origin (programs, curl) are not affected: this is about pages.

No CORS headers are sent either way, so a page elsewhere still cannot read an HTTP answer; the
check matters for what a page can send (a POST needs no preflight when it is a "simple" request)
and for WebSockets, which browsers open to any origin.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ...core.errors import GatewayError
from ..respond import refuse


class OriginGuard:
    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and origin not in self.allowed and origin != own_origin(scope, headers):
                await refuse(scope, receive, send, origin_not_allowed(origin))
                return
        await self.app(scope, receive, send)


def own_origin(scope: Scope, headers: Headers) -> str | None:
    """The origin of the gateway's own pages as this request reached it (its Host, its scheme)."""
    host = headers.get("host")
    if not host:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    return f"{scheme}://{host}".lower()


def origin_not_allowed(origin: str) -> GatewayError:
    return GatewayError(
        403,
        f"This gateway does not accept requests from web pages of {origin[:100]}: it serves the origins "
        "in GATEWAY_ALLOWED_ORIGINS only.",
        "permission_error",
        "origin_not_allowed",
    )
