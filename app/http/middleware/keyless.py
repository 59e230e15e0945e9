"""Keyless mode: a gateway without API keys serves this machine only, and no web page in its browser.

Without keys, whoever reaches the port uses the operator's Claude credential and sees the
operator's account, so the port must be reachable from this machine's own programs only:

- the peer must be loopback, even if someone starts uvicorn on 0.0.0.0 by hand;
- the Host header must name loopback: a DNS-rebinding page reaches 127.0.0.1 under its own name;
- a cross-origin Origin header means a web page is calling; browsers send it on every such POST.
  A page on any loopback origin (another local port too) passes: GATEWAY_ALLOWED_ORIGINS
  (origins.py) narrows that to the listed pages.

What counts as loopback, and why `127.1` or `localhost.` do not, is in app/core/loopback.py. With API
keys, the keys decide and this middleware is not installed (app/http/app.py).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ...core.errors import GatewayError
from ...core.loopback import is_loopback_authority, is_loopback_origin, is_loopback_peer
from ..respond import refuse


class KeylessGuard:
    """Refuses an HTTP request or WebSocket handshake that does not come from this machine with a
    403 in the envelope of the door it called, before any route (or body read) runs. WebSockets
    most of all: browsers apply no same-origin rule to them, so without this check any web page
    open on this machine could use the operator's Claude credential through a socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        refused = keyless_guard(client[0] if client else None, headers.get("host"), headers.get("origin"))
        if refused is None:
            await self.app(scope, receive, send)
        else:
            await refuse(scope, receive, send, refused)


def keyless_guard(client_host: str | None, host_header: str | None, origin: str | None) -> GatewayError | None:
    """Why a request from `client_host` with these Host and Origin headers is refused, if it is."""
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
        "Set GATEWAY_API_KEYS or GATEWAY_ADMIN_KEY to serve them.",
        "permission_error",
        "keyless_gateway",
    )
