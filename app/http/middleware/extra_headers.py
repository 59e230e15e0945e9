"""Middleware that adds headers to whatever answers a request: a turn, a stream, a session
listing or an error, a WebSocket handshake's answer. The base of RateHeaders (rate_headers.py) and
DemoHeader (demo_header.py), which differ only in the headers they add."""

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
