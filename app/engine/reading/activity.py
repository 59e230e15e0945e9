"""Agent mode: the tools Claude Code runs itself, read from its messages as ToolUse and ToolResult
events for the client to see (it never runs them, nor sends them back).

A call is read from the assistant frame of its tool_use block: the CLI sends one such frame per
content block, streamed message or not, and it holds the whole input. Its result is read from the
user frame that hands Claude the tool_result. The client's own functions (engine/processes/tools.py) and
Claude Code's StructuredOutput tool are not activity: they are the answer, read by reader.py; nor is
its ToolSearch, which loads the functions a client deferred.
A subagent's calls (Task, Agent) are reported too, each with the call it ran inside.

A WebSearch or WebFetch call that serves a hosted tool the request asked for (core/hosted.py) is
marked as such, and its result carries the pages it found or read (`sources`), read from the
frame's `tool_use_result`: a search's `results` hold `{"tool_use_id", "content": [{"title",
"url"}]}` entries next to text (CLI 2.1.329); a fetch's page is its input's URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from claude_agent_sdk import AssistantMessage, ToolResultBlock, ToolUseBlock, UserMessage

from ...core.events import ToolResult, ToolUse, cut
from ...core.hosted import (
    HOSTED_BY_CLAUDE_TOOL,
    MCP,
    WEB_FETCH,
    WEB_SEARCH,
    RemoteServer,
    Source,
    is_web,
    needs_approval,
)
from ..processes.tools import SERVER, TOOL_SEARCH, client_name

# Whether a call (Claude Code's tool-use id, tool, input) waits for the client's permission.
Asks = Callable[[str, str, dict[str, Any]], bool]
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # the tool Claude Code adds for output_format
MCP_PREFIX = "mcp__"
_ERROR_WRAPPER = re.compile(r"\A<tool_use_error>(.*)</tool_use_error>\Z", re.DOTALL)


def is_activity(name: str) -> bool:
    """Whether a tool_use of this name is one Claude Code runs itself."""
    return client_name(name) is None and name not in (STRUCTURED_OUTPUT_TOOL, TOOL_SEARCH)


def mcp_server(name: str) -> str | None:
    """The MCP server of an `mcp__<server>__<tool>` name (not the gateway's own); None otherwise."""
    server, separator, tool = name.removeprefix(MCP_PREFIX).partition("__")
    if not name.startswith(MCP_PREFIX) or not separator or not server or not tool or server == SERVER:
        return None
    return server


def output_text(content: str | list[dict[str, Any]] | None) -> str:
    """A tool_result's content as text: its text blocks; other blocks (images) named in brackets.
    Claude Code's wrapper around an error's text is left out."""
    if isinstance(content, list):
        content = "\n".join(str(b.get("text")) if b.get("type") == "text" else f"[{b.get('type')}]" for b in content)
    text = content or ""
    wrapped = _ERROR_WRAPPER.match(text)
    return wrapped.group(1) if wrapped else text


class Activity:
    """The turn's reported calls, so each is reported once and each result names its call."""

    def __init__(
        self, hosted: tuple[str, ...] = (), remote: tuple[RemoteServer, ...] = (), asks: Asks | None = None
    ) -> None:
        self.hosted = hosted  # the hosted tools the request asked for (core/hosted.py names)
        self.asks = asks  # agent mode's permission prompts: whether a call waits (engine/agent/prompts.py)
        self._prompts: set[str] = set()  # calls that wait for the client's permission, not yet answered for
        self.remote = remote  # the request's remote MCP servers: their calls are hosted (MCP)
        self._labels = {server.label for server in remote}
        self._uses: dict[str, ToolUse] = {}
        self._answered: set[str] = set()
        # Calls that wait for the client's approval: an answer's calls for the client (reader.py),
        # reported here with their result once approved (approvals run them), not before.
        self._pending: set[str] = set()

    def awaits_approval(self, name: str) -> bool:
        return needs_approval(self.remote, name)

    def use(self, block: object, parent: str | None) -> ToolUse | None:
        """The ToolUse of a content block, if it is a call Claude Code runs and is new."""
        if not isinstance(block, ToolUseBlock) or not is_activity(block.name) or block.id in self._uses:
            return None
        server = mcp_server(block.name)
        hosted = HOSTED_BY_CLAUDE_TOOL.get(block.name)
        hosted = hosted if hosted in self.hosted and parent is None else None
        hosted = MCP if server is not None and server in self._labels else hosted
        use = ToolUse(block.id, block.name, dict(block.input), server, parent, hosted)
        self._uses[block.id] = use
        if parent is None and self.awaits_approval(block.name):
            self._pending.add(block.id)
            return None
        if parent is None and self.asks is not None and self.asks(block.id, block.name, use.input):
            self._pending.add(block.id)
            self._prompts.add(block.id)
            return None
        return use

    def prompt(self, call_id: str) -> bool:
        """Whether this call, just met, waits for the client's permission (once: then it is the answer's)."""
        if call_id not in self._prompts:
            return False
        self._prompts.discard(call_id)
        return True

    def uses(self, message: AssistantMessage) -> list[ToolUse]:
        """A (subagent's) message's calls only: its text is not the answer."""
        found = (self.use(block, message.parent_tool_use_id) for block in message.content)
        return [use for use in found if use is not None]

    def results(self, message: UserMessage) -> list[ToolUse | ToolResult]:
        """The results of reported calls in a user frame (not those of the client's functions); an
        approved call's, after its call."""
        blocks = [] if isinstance(message.content, str) else message.content
        results: list[ToolUse | ToolResult] = []
        for block in blocks:
            if not isinstance(block, ToolResultBlock) or block.tool_use_id in self._answered:
                continue
            use = self._uses.get(block.tool_use_id)
            if use is not None:
                self._answered.add(use.id)
                if use.id in self._pending:
                    self._pending.discard(use.id)
                    results.append(use)
                output = output_text(block.content)  # a remote server's whole: the client asked for it
                output = output if use.hosted == MCP else cut(output)
                web = is_web(use.hosted) and not block.is_error
                sources = found(use, message.tool_use_result) if web else ()
                failed = bool(block.is_error)
                results.append(
                    ToolResult(use.id, use.name, output, failed, use.server, use.parent, use.hosted, sources)
                )
        return results


def found(use: ToolUse, details: object) -> tuple[Source, ...]:
    """The pages a hosted call found (a search) or read (a fetch), each once, in order."""
    if use.hosted == WEB_FETCH:
        return (Source(str(use.input.get("url", ""))),) if use.input.get("url") else ()
    if use.hosted != WEB_SEARCH or not isinstance(details, dict):
        return ()
    pages: dict[str, Source] = {}
    for entry in details.get("results") or []:
        for link in entry.get("content") or [] if isinstance(entry, dict) else []:
            if isinstance(link, dict) and isinstance(link.get("url"), str):
                pages.setdefault(link["url"], Source(link["url"], str(link.get("title") or "")))
    return tuple(pages.values())
