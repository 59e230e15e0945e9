"""The fake upstream's server tools: what Anthropic's API answers when a request offers its
`web_search_*` or `web_fetch_*` tool, as Claude Code's WebSearch tool sends it (SDK_NOTES: the
CLI runs WebSearch as a model call of its own that offers `web_search_20250305`).

The answer is shaped as Anthropic's is: `server_tool_use` (the query), `web_search_tool_result`
(results with url, title, encrypted_content, page_age), then text with
`web_search_result_location` citations, and `usage.server_tool_use.web_search_requests`.
Results are made from the query, so that a test can tell them apart: a query `q` finds
`https://<domain>/<slug of q>` on each of `SEARCH_DOMAINS` that the request's
`allowed_domains` / `blocked_domains` let through.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from app.demo.wire import Reply, last_user_text

SEARCH_DOMAINS = ("docs.example.org", "news.example.com")
QUERY_PREFIX = "Perform a web search for the query: "  # how Claude Code words its search call


FETCH_SUMMARY = "Web page content:"  # how Claude Code's WebFetch opens its model call on the page


def claude_codes_own(body: dict[str, Any]) -> bool:
    """Whether a model call is one Claude Code's WebSearch or WebFetch makes for itself (not a step
    of the conversation): it takes no scripted reply."""
    return server_tool(body, "web_search") is not None or last_user_text(body).lstrip().startswith(FETCH_SUMMARY)


def server_tool(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The request's server tool of a kind ("web_search", "web_fetch"), if it offers one."""
    for tool in body.get("tools") or []:
        if str(tool.get("type", "")).startswith(kind + "_"):
            return dict(tool)
    return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"


def search_results(query: str, tool: dict[str, Any]) -> list[dict[str, Any]]:
    allowed = tool.get("allowed_domains") or []
    blocked = tool.get("blocked_domains") or []
    found = []
    for domain in SEARCH_DOMAINS:
        if (allowed and domain not in allowed) or domain in blocked:
            continue
        found.append(
            {
                "type": "web_search_result",
                "url": f"https://{domain}/{slug(query)}",
                "title": f"{query} - {domain}",
                "encrypted_content": "ZmFrZQ==",
                "page_age": "December 1, 2026",
            }
        )
    return found


def web_search_reply(body: dict[str, Any]) -> Reply | None:
    """Anthropic's answer to a model call that offers web search; None if it offers none."""
    tool = server_tool(body, "web_search")
    if tool is None:
        return None
    query = last_user_text(body).removeprefix(QUERY_PREFIX).strip()
    call = f"srvtoolu_{uuid.uuid4().hex[:24]}"
    results = search_results(query, tool)
    citations = [
        {
            "type": "web_search_result_location",
            "url": result["url"],
            "title": result["title"],
            "encrypted_index": "ZmFrZQ==",
            "cited_text": f"What {result['url']} says about {query}.",
        }
        for result in results[:1]
    ]
    return Reply(
        text=f"Found {len(results)} results for {query}.",
        server_blocks=[
            {"type": "server_tool_use", "id": call, "name": "web_search", "input": {"query": query}},
            {"type": "web_search_tool_result", "tool_use_id": call, "content": results},
        ],
        citations=citations,
        server_tool_use={"web_search_requests": 1},
    )
