"""Remote MCP servers (core/hosted.py `RemoteServer`) reach Claude Code through a forwarding proxy
of the gateway's own, on loopback: the CLI's MCP config names `http://127.0.0.1:<port>/<token>/...`,
and the proxy sends each request on to the server.

Why a proxy and not the server's URL in the CLI's config:
- DNS rebinding: the door resolved the server's name once and checked every address
  (doors/remote_mcp.py); the proxy connects only to those addresses (`PinnedBackend`), with TLS
  still checked against the server's name (SNI and certificate), which an IP in the URL with a
  Host header cannot do for https. The CLI's own client would resolve the name again.
- Headers (Authorization...) stay in this process's memory: the CLI's config file holds only the
  loopback URL and an unguessable token, so no secret of the client's is ever written to disk.
- The tool list: the proxy reads the server's `tools/list` answer, which the Responses API shows
  as an `mcp_list_tools` item (name, description, input schema), and keeps from Claude the tools
  the request does not allow (`allowed_tools`); a call of another is refused here too.
- Redirects are not followed, and never handed to the CLI (which would follow them itself): 502.

A route lives as long as a process uses it (`route`, `release`); the token names it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from ...core.hosted import RemoteServer
from .pinned import PinnedTransport
from .tools import TOOL_USE_ID

log = logging.getLogger(__name__)

# Headers that describe one hop, never passed on (RFC 9110 7.6.1), and those set per hop anew.
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
PASSED_BACK = ("content-type", "mcp-session-id", "mcp-protocol-version", "cache-control", "www-authenticate")
MAX_BODY = 32 * 1024 * 1024  # a request, or a JSON answer read whole (to read its tool list); not a stream
TIMEOUT = httpx.Timeout(connect=10.0, read=None, write=30.0, pool=10.0)
MAX_CALLS = 1000  # calls awaiting their result, per route


@dataclass
class Route:
    """One remote server as the CLI reaches it."""

    server: RemoteServer
    token: str
    client: httpx.AsyncClient
    users: int = 0
    tools: list[dict[str, Any]] = field(default_factory=list)  # as its last tools/list said (allowed ones)
    listed: asyncio.Event = field(default_factory=asyncio.Event)
    calls: dict[str, str] = field(default_factory=dict)  # a tools/call's JSON-RPC id -> Claude's tool-use id
    outputs: dict[str, str] = field(default_factory=dict)  # Claude's tool-use id -> the call's text content


class McpProxy:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}  # by token
        self._by_server: dict[RemoteServer, Route] = {}
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._socket.bind(("127.0.0.1", 0))
            self._socket.listen(128)  # connections wait here until the server below takes them
            self._serving = asyncio.get_running_loop().create_task(self._serve(self._socket))
        return int(self._socket.getsockname()[1])

    async def _serve(self, sock: socket.socket) -> None:
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False, interface="asgi3")
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[sock])

    async def close(self) -> None:
        for route in list(self._routes.values()):
            await route.client.aclose()
        self._routes.clear()
        self._by_server.clear()
        if self._serving is not None:
            await asyncio.gather(self._serving, return_exceptions=True)
        if self._server is not None and self._server.started:
            self._server.force_exit = True
            await self._server.shutdown()
        if self._socket is not None:
            self._socket.close()

    def route(self, server: RemoteServer) -> Route:
        """The route to `server`, one more process using it."""
        route = self._by_server.get(server)
        if route is None:
            client = httpx.AsyncClient(transport=PinnedTransport(server), timeout=TIMEOUT, trust_env=False)
            route = Route(server, secrets.token_urlsafe(32), client)
            self._routes[route.token] = self._by_server[server] = route
        route.users += 1
        return route

    def release(self, route: Route) -> None:
        """A process that used the route has exited; the last one takes the route (and its headers) away."""
        route.users -= 1
        if route.users <= 0 and self._routes.pop(route.token, None) is not None:
            self._by_server.pop(route.server, None)
            asyncio.get_running_loop().create_task(route.client.aclose())

    def local_url(self, route: Route) -> str:
        """The URL the CLI is given for the server: its path under the route's token."""
        parts = urlsplit(route.server.url)
        query = f"?{parts.query}" if parts.query else ""
        return f"http://127.0.0.1:{self.port}/{route.token}{parts.path or '/'}{query}"

    def output(self, server: RemoteServer, call_id: str) -> str | None:
        """The text a call (Claude's tool-use id) gave, as the server said it (Claude Code shows
        Claude a structured result instead, where the server gives one)."""
        route = self._by_server.get(server)
        return route.outputs.pop(call_id, None) if route is not None else None

    def tools(self, server: RemoteServer) -> list[dict[str, Any]] | None:
        """The server's (allowed) tools as last listed; None if it was never listed."""
        route = self._by_server.get(server)
        return list(route.tools) if route is not None and route.listed.is_set() else None

    # --- the proxy itself -------------------------------------------------------------------
    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        token, _, rest = scope["path"].lstrip("/").partition("/")
        route = self._routes.get(token)
        if route is None:
            await _plain(send, 404, "no such route")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _plain(send, 413, "request too large")
                return
            if not message.get("more_body"):
                break
        refusal = _refused_call(route, body)
        if refusal is not None:
            await _send(send, 200, [(b"content-type", b"application/json")], refusal)
            return
        origin = urlsplit(route.server.url)
        url = f"{origin.scheme}://{origin.netloc}/{rest}"
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = [(k, v) for k, v in headers if k.lower() not in HOP and k.lower() != "content-length"]
        own = {name.lower() for name, _ in route.server.headers}
        headers = [(k, v) for k, v in headers if k.lower() not in own] + list(route.server.headers)
        request = route.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            upstream = await route.client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            log.info("remote MCP server %s unreachable: %s", route.server.label, type(exc).__name__)
            await _plain(send, 502, f"the MCP server could not be reached ({type(exc).__name__})")
            return
        try:
            await self._answer(route, upstream, send)
        finally:
            await upstream.aclose()

    async def _answer(self, route: Route, upstream: httpx.Response, send: Send) -> None:
        if 300 <= upstream.status_code < 400:
            await _plain(send, 502, "the MCP server answered with a redirect, which is not followed")
            return
        back = [(k.encode(), v.encode("latin-1")) for k in PASSED_BACK if (v := upstream.headers.get(k)) is not None]
        if upstream.headers.get("content-type", "").startswith("text/event-stream"):
            await send({"type": "http.response.start", "status": upstream.status_code, "headers": back})
            try:
                async for event in _events(upstream.aiter_text()):
                    body = self._event(route, event).encode()
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            except (httpx.HTTPError, ValueError) as exc:  # the server went away, or sent no events
                log.info("remote MCP server %s: its event stream ended (%s)", route.server.label, type(exc).__name__)
            await send({"type": "http.response.body", "body": b""})
            return
        content = b""
        async for chunk in upstream.aiter_bytes():
            content += chunk
            if len(content) > MAX_BODY:
                await _plain(send, 502, "the MCP server's answer is too large")
                return
        if upstream.headers.get("content-type", "").startswith("application/json"):
            content = self._message(route, content.decode("utf-8", "replace")).encode()
        await _send(send, upstream.status_code, back, content)

    def _event(self, route: Route, event: str) -> str:
        """One server-sent event, passed on: its JSON-RPC message read (and its tool list kept to
        the allowed tools); the legacy SSE transport's `endpoint` moved under the route's token."""
        lines = event.split("\n")
        kind = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        if kind == "endpoint":
            data = self._endpoint(route, data)
        elif data:
            data = self._message(route, data)
        else:
            return event + "\n\n"
        kept = [line for line in lines if not line.startswith("data:")]
        return "\n".join([*kept, *(f"data: {line}" for line in data.split("\n"))]) + "\n\n"

    def _endpoint(self, route: Route, endpoint: str) -> str:
        """Where the legacy SSE transport posts its messages, on the same server only."""
        target = urlsplit(urljoin(route.server.url, endpoint.strip()))
        origin = urlsplit(route.server.url)
        if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
            return f"/{route.token}/refused-endpoint"
        return f"/{route.token}{target.path}" + (f"?{target.query}" if target.query else "")

    def _message(self, route: Route, text: str) -> str:
        """A JSON-RPC answer as passed on: a tool list is noted and kept to the allowed tools."""
        try:
            message = json.loads(text)
        except ValueError:
            return text
        result = message.get("result") if isinstance(message, dict) else None
        call_id = route.calls.pop(str(message.get("id")), None) if isinstance(message, dict) else None
        if call_id is not None and isinstance(result, dict) and isinstance(result.get("content"), list):
            parts = [str(block.get("text", "")) for block in result["content"] if isinstance(block, dict)]
            route.outputs[call_id] = "\n".join(parts)
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return text
        tools = result["tools"]
        allowed = [t for t in tools if isinstance(t, dict) and route.server.allows(str(t.get("name")))]
        route.tools = allowed
        route.listed.set()
        return json.dumps({**message, "result": {**result, "tools": allowed}})


def _refused_call(route: Route, body: bytes) -> bytes | None:
    """A JSON-RPC error for a `tools/call` of a tool the request does not allow; None otherwise (a
    call's id noted, to read its result's text)."""
    try:
        message = json.loads(body) if body else None
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params") or {}
    name = str(params.get("name"))
    if route.server.allows(name):
        tool_use = (params.get("_meta") or {}).get(TOOL_USE_ID)
        if tool_use and len(route.calls) < MAX_CALLS:
            route.calls[str(message.get("id"))] = str(tool_use)
        return None
    error = {"code": -32602, "message": f"Tool {name} is not among the request's allowed_tools."}
    return json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "error": error}).encode()


async def _events(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Server-sent events, one at a time (without their blank separator line)."""
    buffer = ""
    async for chunk in chunks:
        buffer += chunk.replace("\r\n", "\n")
        while "\n\n" in buffer:
            event, buffer = buffer.split("\n\n", 1)
            yield event
        if len(buffer) > MAX_BODY:
            raise ValueError("an event larger than the proxy takes")
    if buffer.strip():
        yield buffer


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, text: str) -> None:
    await _send(send, status, [(b"content-type", b"text/plain")], text.encode())
