"""Remote MCP servers as both APIs name them (the Responses `mcp` tool, Anthropic's `mcp_servers`),
made into the neutral `RemoteServer` (core/hosted.py). Pure functions, no I/O: the URL's safety
(the key's allow-list, the addresses it resolves to) is checked at the door (doors/remote_mcp.py).

Claude sees a server's tools as `mcp__<label>__<tool>`, so a label is letters, digits, `_` and
`-`, without `__` (which would make a tool's name ambiguous), and not a name the gateway uses
itself. The transport: a URL whose path ends in `/sse` is the legacy SSE transport, any other
the streamable HTTP one (neither API names it; servers name their SSE endpoint so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from ..core.errors import GatewayError, invalid_request
from ..core.hosted import RemoteServer

LABEL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RESERVED = ("client", "claude_code")  # the gateway's in-process server, and how built-in tools are named
MAX_URL = 2048


def transport(url: str) -> Literal["http", "sse"]:
    return "sse" if urlsplit(url).path.rstrip("/").endswith("/sse") else "http"


def checked_label(label: str, param: str) -> str:
    if not LABEL.fullmatch(label) or "__" in label or label in RESERVED:
        raise invalid_request(
            f"{param}: {label[:80]!r} is not a label this gateway can serve: 1-64 letters, digits, '_' or '-', "
            f"without '__', and not {' or '.join(RESERVED)}.",
            param,
            "invalid_value",
        )
    return label


def checked_url(url: str | None, param: str) -> str:
    if not url:
        raise invalid_request(f"{param} is required for a remote MCP server.", param, "missing_required_parameter")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if len(url) > MAX_URL or parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_request(f"{param} must be an http or https URL.", param, "invalid_value")
    return url


def unique(servers: Sequence[RemoteServer], param: str) -> tuple[RemoteServer, ...]:
    labels = [server.label for server in servers]
    if repeated := sorted({label for label in labels if labels.count(label) > 1}):
        raise invalid_request(f"{param}: two remote MCP servers share the label {repeated[0]!r}.", param)
    return tuple(servers)


def connectors_refused(param: str) -> GatewayError:
    return GatewayError(
        400,
        f"Unsupported tool at {param}: OpenAI's connectors (connector_id) are not served by this gateway, which "
        "reaches only remote MCP servers by their server_url.",
        "invalid_request_error",
        "unsupported_tool_type",
        param,
    )


def bearer(token: str | None, headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The headers sent to a server: the request's, with its access token (if any) as Authorization."""
    if not token:
        return tuple(headers.items())
    kept = [(name, value) for name, value in headers.items() if name.lower() != "authorization"]
    return (*kept, ("Authorization", f"Bearer {token}"))
