"""Writes the x-ratelimit-*-requests headers that authentication put on the request (a key with an
rpm limit) onto whatever answers it: a turn, a stream, a session listing or an error."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                extra = state.get("rate_headers") if isinstance(state, dict) else None
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
