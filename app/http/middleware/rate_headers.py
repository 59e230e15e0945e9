"""Middleware that adds headers to whatever answers a request: a turn, a stream, a session
listing or an error. `RateHeaders` writes the x-ratelimit-*-requests headers that authentication
put on the request (a key with an rpm limit); demo mode adds its label the same way."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]


class ExtraHeaders:
    """Adds `headers_for(scope)` to every HTTP answer, without replacing one the answer has; and to
    a WebSocket handshake's answer (its accept, or its refusal)."""

    def __init__(self, app: ASGIApp, headers_for: Callable[[Scope], RawHeaders]) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ANSWERS:
                extra = self.headers_for(scope)
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [(name, value) for name, value in extra if name not in present]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


ANSWERS = frozenset({"http.response.start", "websocket.accept", "websocket.http.response.start"})


def rate_headers(scope: Scope) -> RawHeaders:
    state = scope.get("state") or {}
    extra = state.get("rate_headers") if isinstance(state, dict) else None
    return [(k.encode(), v.encode()) for k, v in extra.items()] if extra else []


class RateHeaders(ExtraHeaders):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, rate_headers)
