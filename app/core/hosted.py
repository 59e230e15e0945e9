"""Hosted tools: tools of the OpenAI and Anthropic APIs that the API's own servers run (web
search, web fetch, remote MCP servers), which the gateway serves with Claude Code's own tools for
the turn that asks for them. The neutral shape every door's request becomes (`Hosted`, part of
a `Turn`) and what a hosted call found (`Source`).

Which Claude Code tool serves which hosted tool: `CLAUDE_TOOLS`. The key policy names hosted
tools by their API names ("web_search", "web_fetch", "mcp"): `Hosted.names`.
"""

from __future__ import annotations

from dataclasses import dataclass

WEB_SEARCH, WEB_FETCH, MCP = "web_search", "web_fetch", "mcp"
HOSTED_TOOLS = (WEB_SEARCH, WEB_FETCH, MCP)
CLAUDE_TOOLS = {WEB_SEARCH: "WebSearch", WEB_FETCH: "WebFetch"}  # the Claude Code tool that serves each
HOSTED_BY_CLAUDE_TOOL = {tool: hosted for hosted, tool in CLAUDE_TOOLS.items()}


@dataclass(frozen=True)
class WebRules:
    """A hosted web tool (search or fetch) as the request limits it."""

    allowed_domains: tuple[str, ...] = ()  # empty: any domain (but the blocked ones)
    blocked_domains: tuple[str, ...] = ()
    max_uses: int | None = None  # calls in one turn; None: Claude Code's own limit


@dataclass(frozen=True)
class Hosted:
    """The hosted tools a turn offers Claude."""

    web_search: WebRules | None = None
    web_fetch: WebRules | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The hosted tools asked for, by their API names (what a key's policy allows)."""
        asked = {WEB_SEARCH: self.web_search, WEB_FETCH: self.web_fetch}
        return tuple(name for name, rules in asked.items() if rules is not None)

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
