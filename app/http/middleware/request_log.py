"""The outermost middleware but demo's label: each request's record (app/observability/requests.py)
opened before anything answers it, and counted and logged once its answer (a whole stream too)
has gone, so that refusals are seen as much as turns."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...observability.metrics import Metrics, door_of
from ...observability.requests import CURRENT, RequestRecord, log


class RequestLog:
    """Opens each HTTP request's record; once answered, counts it and logs its line. A WebSocket
    is one record from its handshake to its close (method `WS`, status 101 once accepted, or the
    refusal's), with every turn it carried."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        record = RequestRecord(scope.get("method") or "WS", path, door_of(path))
        token = CURRENT.set(record)

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                record.status = message["status"]
            elif kind == "websocket.accept":
                record.status = 101
            elif kind == "websocket.close" and record.status is None:
                record.status = 403  # refused at the handshake: what the server answers
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            record.status = record.status or 500  # what Starlette's outermost handler answers
            raise
        finally:
            CURRENT.reset(token)
            state = scope.get("state") or {}
            record.key = record.key or (state.get("key_name") if isinstance(state, dict) else None)
            self.done(record)

    def done(self, record: RequestRecord) -> None:
        try:
            self.metrics.request_ended(record.door, record.status, record.model, record.key)
            fields = record.fields()
            log.info("%s %s %s", record.method, record.path, record.status, extra={"fields": fields})
        except Exception:
            log.exception("could not log a request")
