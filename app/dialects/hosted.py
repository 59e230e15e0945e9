"""Hosted web tools (core/hosted.py) in each door's own shapes. Pure functions, no I/O.

A hosted call is a tool part of the answer (answer.py) whose ToolUse names the hosted tool it
serves. Each door shows it as its API does:
- Responses: a `web_search_call` item (`action`: the query; its `sources` when the request's
  `include` asks for `web_search_call.action.sources`), and `url_citation` annotations on the text;
- Chat Completions: `url_citation` annotations on the message (Chat shows no search calls);
- Anthropic Messages: `server_tool_use` and `web_search_tool_result` / `web_fetch_tool_result`
  blocks, `citations` on text blocks, and `usage.server_tool_use`.

Citations: Claude Code's WebSearch hands Claude its results as a list of links and asks it to
cite them as markdown links, so the answer's own text says where it cites a page. A citation is
the span of a found page's link in the text (`[title](url)`, or the bare URL), at its first place.
Anthropic's citations also carry `cited_text` (here the link's text) and an `encrypted_index`
(here empty: Claude Code keeps none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..core.events import ToolResult
from ..core.hosted import DOMAINS_REFUSED, MAX_USES_REFUSED, WEB_FETCH, WEB_SEARCH, Source, is_web
from .answer import Part

SOURCES_INCLUDE = "web_search_call.action.sources"  # Responses `include` value that adds them


@dataclass(frozen=True)
class Citation:
    start: int  # characters into the text
    end: int
    source: Source
    cited: str  # the link's text


def is_hosted(part: Part) -> bool:
    return part.kind == "tool" and part.use is not None and is_web(part.use.hosted)


def sources(parts: list[Part]) -> list[Source]:
    """Every page the answer's hosted calls found, each once, in order."""
    found: dict[str, Source] = {}
    for part in parts:
        for source in part.result.sources if part.result is not None and part.result.hosted else ():
            found.setdefault(source.url, source)
    return list(found.values())


def citations(text: str, found: list[Source]) -> list[Citation]:
    """Where the text cites the pages found: each page's link at its first place, in text order."""
    cited = []
    for source in found:
        link = re.search(r"\[([^\]\n]*)\]\(" + re.escape(source.url) + r"\)", text)
        if link is not None:
            cited.append(Citation(link.start(), link.end(), source, link.group(1)))
        elif (at := text.find(source.url)) >= 0:
            cited.append(Citation(at, at + len(source.url), source, source.url))
    return sorted(cited, key=lambda c: c.start)


def counts(parts: list[Part]) -> dict[str, int]:
    """usage.server_tool_use: the hosted searches and fetches that ran (as the ledger counts them)."""
    made = [
        part.use.hosted for part in parts if is_hosted(part) and part.use and part.result and not part.result.is_error
    ]
    return {"web_search_requests": made.count(WEB_SEARCH), "web_fetch_requests": made.count(WEB_FETCH)}


# --- Responses ---------------------------------------------------------------------------------------
def responses_item(part: Part, finished: bool, with_sources: bool) -> dict[str, Any]:
    """A hosted call as a `web_search_call` output item (a fetch: its `open_page` action)."""
    use, result = part.use, part.result
    assert use is not None
    if result is None:
        status = "incomplete" if finished else "in_progress"
    else:
        status = "failed" if result.is_error else "completed"
    if use.hosted == WEB_FETCH:
        action: dict[str, Any] = {"type": "open_page", "url": str(use.input.get("url", ""))}
    else:
        action = {"type": "search", "query": str(use.input.get("query", ""))}
        if with_sources:
            action["sources"] = [{"type": "url", "url": s.url} for s in (result.sources if result else ())]
    return {"type": "web_search_call", "id": f"ws_{part.key}", "status": status, "action": action}


def responses_annotations(text: str, found: list[Source]) -> list[dict[str, Any]]:
    return [
        {
            "type": "url_citation",
            "start_index": c.start,
            "end_index": c.end,
            "url": c.source.url,
            "title": c.source.title,
        }
        for c in citations(text, found)
    ]


# --- Chat Completions --------------------------------------------------------------------------------
def chat_annotations(text: str, found: list[Source]) -> list[dict[str, Any]]:
    return [
        {
            "type": "url_citation",
            "url_citation": {"start_index": c.start, "end_index": c.end, "url": c.source.url, "title": c.source.title},
        }
        for c in citations(text, found)
    ]


# --- Anthropic Messages ------------------------------------------------------------------------------
def server_id(call_id: str) -> str:
    """A server tool call's id as Anthropic's look (`srvtoolu_...`)."""
    return "srvtoolu_" + call_id.removeprefix("toolu_")


def server_tool_use(part: Part) -> dict[str, Any]:
    use = part.use
    assert use is not None and use.hosted is not None
    if use.hosted == WEB_FETCH:
        arguments = {"url": str(use.input.get("url", ""))}
    else:
        arguments = {"query": str(use.input.get("query", ""))}
    return {"type": "server_tool_use", "id": server_id(use.id), "name": use.hosted, "input": arguments}


def server_result(result: ToolResult) -> dict[str, Any]:
    """A hosted call's result block: the pages a search found, the page a fetch read, or an error."""
    kind = "web_fetch_tool_result" if result.hosted == WEB_FETCH else "web_search_tool_result"
    content: Any
    if result.is_error:
        code = "max_uses_exceeded" if MAX_USES_REFUSED in result.output else "unavailable"
        if result.hosted == WEB_FETCH and any(marker in result.output for marker in DOMAINS_REFUSED):
            code = "url_not_allowed"
        error_type = "web_fetch_tool_error" if result.hosted == WEB_FETCH else "web_search_tool_result_error"
        content = {"type": error_type, "error_code": code}
    elif result.hosted == WEB_FETCH:
        url = result.sources[0].url if result.sources else ""
        document = {"type": "text", "media_type": "text/plain", "data": result.output}
        content = {"type": "web_fetch_result", "url": url, "content": {"type": "document", "source": document}}
    else:
        content = [
            {"type": "web_search_result", "url": s.url, "title": s.title, "encrypted_content": "", "page_age": None}
            for s in result.sources
        ]
    return {"type": kind, "tool_use_id": server_id(result.id), "content": content}


def anthropic_blocks(part: Part) -> list[dict[str, Any]]:
    return [server_tool_use(part)] + ([server_result(part.result)] if part.result is not None else [])


def anthropic_citations(text: str, found: list[Source]) -> list[dict[str, Any]]:
    return [
        {
            "type": "web_search_result_location",
            "url": c.source.url,
            "title": c.source.title,
            "cited_text": c.cited,
            "encrypted_index": "",
        }
        for c in citations(text, found)
    ]
