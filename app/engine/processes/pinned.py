"""Connections to a remote MCP server that go only to the addresses the door checked for its name
(doors/remote_mcp.py): an httpx transport whose network backend swaps the name for those addresses,
while TLS still names the server (SNI, and the certificate checked against its name). Neither the
environment's proxies nor .netrc apply. Used by the forwarding proxy (mcp_proxy.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from ...core.hosted import RemoteServer


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a server's name only to the addresses checked for it (TLS still names the server)."""

    def __init__(self, host: str, addresses: tuple[str, ...]) -> None:
        self.host, self.addresses = host, addresses
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.strip("[]") != self.host or not self.addresses:
            raise httpcore.ConnectError(f"not a checked host: {host}")
        failure: Exception | None = None
        for address in self.addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, server: RemoteServer) -> None:
        super().__init__(trust_env=False)
        host = urlsplit(server.url).hostname or ""
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=PinnedBackend(host, server.addresses)
        )
