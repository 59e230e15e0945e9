"""Hosted tools: tools of the OpenAI and Anthropic APIs that the API's own servers run (web
search, web fetch, remote MCP servers), which the gateway serves with Claude Code's own tools for
the turn that asks for them. The neutral shape every door's request becomes (`Hosted`, part of
a `Turn`) and what a hosted call found (`Source`).

Which Claude Code tool serves which hosted tool: `CLAUDE_TOOLS`. The key policy names hosted
tools by their API names ("web_search", "web_fetch", "mcp"): `Hosted.names`.

Remote MCP servers (`RemoteServer`) are served by Claude Code's own MCP client, through the
engine's forwarding proxy on loopback (engine/processes/mcp_proxy.py), which connects only to the
addresses checked at the door (`addresses`); their headers live in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

WEB_SEARCH, WEB_FETCH, MCP = "web_search", "web_fetch", "mcp"
HOSTED_TOOLS = (WEB_SEARCH, WEB_FETCH, MCP)
CLAUDE_TOOLS = {WEB_SEARCH: "WebSearch", WEB_FETCH: "WebFetch"}  # the Claude Code tool that serves each
# What the web gate's refusals say (engine/processes/web_gate.py), by which the doors tell Anthropic's
# error codes apart (dialects/hosted.py): past max_uses, or outside the request's domains.
MAX_USES_REFUSED = "(max_uses)"
DOMAINS_REFUSED = ("(allowed_domains)", "(blocked_domains)")
HOSTED_BY_CLAUDE_TOOL = {tool: hosted for hosted, tool in CLAUDE_TOOLS.items()}


def is_web(hosted: str | None) -> bool:
    """Whether a call serves a hosted web tool (search, fetch), which each door shows in its own
    shape; a remote MCP server's calls (MCP) are shown as the MCP calls they are."""
    return hosted in CLAUDE_TOOLS


@dataclass(frozen=True)
class WebRules:
    """A hosted web tool (search or fetch) as the request limits it."""

    allowed_domains: tuple[str, ...] = ()  # empty: any domain (but the blocked ones)
    blocked_domains: tuple[str, ...] = ()
    max_uses: int | None = None  # calls in one turn; None: Claude Code's own limit


@dataclass(frozen=True)
class RemoteServer:
    """A remote MCP server a request names (Responses `mcp` tool, Anthropic `mcp_servers`), as
    Claude sees it: its tools are `mcp__<label>__<tool>`."""

    label: str
    url: str
    transport: Literal["http", "sse"] = "http"
    # Sent on every request to the server (Authorization...): never logged, never written to disk.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    allowed_tools: tuple[str, ...] | None = None  # None: all its tools
    description: str | None = None
    # require_approval: whether a call needs the client's approval first, by default and by name.
    approval: bool = False
    approval_always: tuple[str, ...] = ()
    approval_never: tuple[str, ...] = ()
    # The addresses the server's name resolved to when the request was checked: the only ones
    # connected to (DNS rebinding). Empty until checked.
    addresses: tuple[str, ...] = ()

    @property
    def asks_approval(self) -> bool:
        """Whether a call of any of its tools may wait for the client's approval."""
        return self.approval or bool(self.approval_always)

    def allows(self, tool: str) -> bool:
        return self.allowed_tools is None or tool in self.allowed_tools

    def needs_approval(self, tool: str) -> bool:
        if tool in self.approval_always:
            return True
        return False if tool in self.approval_never else self.approval

    @property
    def prefix(self) -> str:
        """How Claude names its tools: `mcp__<label>__<tool>`."""
        return f"mcp__{self.label}__"


def needs_approval(servers: tuple[RemoteServer, ...], claude_name: str) -> bool:
    """Whether a call of this Claude tool name (`mcp__<label>__<tool>`) waits for the client's approval."""
    server = next((s for s in servers if claude_name.startswith(s.prefix)), None)
    return server is not None and server.needs_approval(claude_name.removeprefix(server.prefix))


@dataclass(frozen=True)
class Hosted:
    """The hosted tools a turn offers Claude."""

    web_search: WebRules | None = None
    web_fetch: WebRules | None = None
    mcp: tuple[RemoteServer, ...] = ()  # remote MCP servers

    @property
    def names(self) -> tuple[str, ...]:
        """The hosted tools asked for, by their API names (what a key's policy allows)."""
        asked = {WEB_SEARCH: self.web_search, WEB_FETCH: self.web_fetch}
        names = tuple(name for name, rules in asked.items() if rules is not None)
        return (*names, MCP) if self.mcp else names

    def rules(self, hosted: str) -> WebRules | None:
        return {WEB_SEARCH: self.web_search, WEB_FETCH: self.web_fetch}.get(hosted)

    @property
    def claude_tools(self) -> list[str]:
        """The Claude Code tools that serve them, turned on for the turn's process."""
        return [CLAUDE_TOOLS[name] for name in self.names if name in CLAUDE_TOOLS]


@dataclass(frozen=True)
class Source:
    """A page a hosted call found or read."""

    url: str
    title: str = ""
