"""Anthropic's tool search: a tool of type `tool_search_tool_regex_20251119` or
`tool_search_tool_bm25_20251119` in `tools`, and `defer_loading: true` on the tools Claude should
not see until a search finds them. The client's request for deferral, served with Claude Code's own.

Claude Code has the same mechanism: with its tool search on, an MCP tool (each client function is
one) can be deferred; Claude is told its name only, and Claude Code's ToolSearch tool (a `select:`
of names, or keywords) loads it with a `tool_reference` block, as Anthropic's search tool does. The
gateway turns it on for a process only when a function is deferred (engine/processes/options.py);
every other client function stays in view from the first step. The search runs inside Claude Code
and is not shown in the answer (no `server_tool_use` / `tool_search_tool_result` blocks); Claude's
query is Claude Code's own form, neither a regex nor BM25 ranking, whichever variant was asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SEARCH_TYPE = re.compile(r"^tool_search_tool_(regex|bm25)_\d{8}$")


def is_search(kind: object) -> bool:
    """Whether a tool `type` is one of Anthropic's tool search tools (each dated version)."""
    return isinstance(kind, str) and SEARCH_TYPE.match(kind) is not None


def deferrals(tools: Sequence[Any]) -> tuple[bool, list[str]]:
    """Whether the request's deferred tools are deferred (it has a search tool, so Claude can find
    them), and the `defer_loading` parameters not applied: with no search tool, a deferred tool
    could never be loaded, so it is offered like the others."""
    searching = any(is_search(getattr(tool, "type", None)) for tool in tools)
    deferred = [i for i, tool in enumerate(tools) if getattr(tool, "defer_loading", None)]
    return searching, [] if searching else [f"tools[{i}].defer_loading" for i in deferred]
