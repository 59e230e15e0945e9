"""A key's own MCP server, reached over streamable HTTP (`url`, /mcp) or the legacy SSE transport
(`sse_url`, /sse) on 127.0.0.1: the `mcp` package's MCPServer (FastMCP's successor in mcp 2), run by
uvicorn in a thread. Two tools: `facts` and `shout`.

It requires `Authorization: Bearer <token>` on every request (401 otherwise) and records what it
saw: each request's Authorization header (`headers`) and each tool call (`calls`).
"""

from __future__ import annotations

import threading
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from tests.fakes.upstream import serve_in_thread
from tests.support import free_port


class RemoteMcp:
    def __init__(self, token: str, host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        self.port = free_port()
        self.headers: list[str] = []  # the Authorization header of every HTTP request, "" if none
        self.calls: list[dict[str, Any]] = []  # {"tool", "arguments"} of every tool call
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's MCP endpoint."""
        return f"http://{self.host}:{self.port}/mcp"

    @property
    def sse_url(self) -> str:
        """The server's legacy SSE endpoint (its messages go to /messages/)."""
        return f"http://{self.host}:{self.port}/sse"

    def app(self) -> Any:
        server = MCPServer("remote", log_level="WARNING")

        @server.tool(description="Say what the remote knows about a topic.")
        def facts(topic: str) -> str:
            self.calls.append({"tool": "facts", "arguments": {"topic": topic}})
            return f"remote facts about {topic}: it is blue"

        @server.tool(description="Shout a text back.")
        def shout(text: str) -> str:
            self.calls.append({"tool": "shout", "arguments": {"text": text}})
            return text.upper() + "!"

        # Any Host header: tests reach it under names that resolve nowhere, through the gateway's
        # proxy, which connects to the checked address (tests/api/test_mcp_proxy.py).
        any_host = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        streamable = server.streamable_http_app(stateless_http=True, json_response=True, transport_security=any_host)
        sse = server.sse_app(transport_security=any_host)

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            legacy = scope["type"] == "http" and scope["path"].startswith(("/sse", "/messages"))
            await (sse if legacy else streamable)(scope, receive, send)

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                header = dict(scope["headers"]).get(b"authorization", b"").decode()
                self.headers.append(header)
                if header != f"Bearer {self.token}":
                    refusal = JSONResponse({"error": "unauthorized"}, status_code=401)
                    await refusal(scope, receive, send)
                    return
            await inner(scope, receive, send)

        return guarded

    def start(self) -> RemoteMcp:
        self._server, self._thread = serve_in_thread(self.app(), self.host, self.port, "remote MCP server", "on")
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
            self._server.force_exit = True  # the CLI may still hold a kept-alive connection
        if self._thread:
            self._thread.join(timeout=5)
