"""A deadline for a request's headers: the HTTP protocol main.py serves with.

uvicorn has no timeout for reading a request's headers: `timeout_keep_alive` covers only an idle
connection between requests, and it is cancelled by the first byte of the next one. A client that
sends part of its headers, slowly or never the rest (slowloris), held its connection, and what the
parser had buffered, for ever; a few hundred such connections were free to open. Here the headers
of each request must all arrive within GATEWAY_HEADER_READ_TIMEOUT seconds of its first byte (or of
the connection's opening, for the first request): past that, the connection is answered 408 and
closed. A request's body has its own deadline (GATEWAY_BODY_READ_TIMEOUT, app/core/bodies.py), and a
socket upgraded to a WebSocket is no longer this protocol's.

uvicorn's protocols (h11, or httptools when installed) keep the request in progress in `cycle`
(None before the first one, `response_complete` once answered); the deadline reads only that.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_Base: Any = AutoHTTPProtocol  # uvicorn's choice between its h11 and httptools protocols


def protocol(timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with a deadline of `timeout` seconds for each request's headers."""

    class HeaderDeadlineProtocol(_Base):  # type: ignore[misc]
        deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.deadline is None and self._between_requests():
                self._arm()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            if self.deadline is not None and not self._between_requests():
                self.deadline.cancel()  # the headers are in: a request runs
                self.deadline = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            cycle = self.cycle
            return cycle is None or bool(cycle.response_complete)

        def _arm(self) -> None:
            self.deadline = asyncio.get_running_loop().call_later(timeout, self._expired)

        def _expired(self) -> None:
            self.deadline = None
            transport: asyncio.Transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:  # closed, or a WebSocket now
                return
            if self._between_requests():
                transport.write(TIMED_OUT)
                transport.close()

    return HeaderDeadlineProtocol
