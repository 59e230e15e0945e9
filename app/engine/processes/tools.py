"""The client's functions, served to Claude Code by an in-process MCP server of our own.

When Claude calls one, the answer goes back to the client as `tool_calls`, and the Claude turn
waits ("held") until the client's next request brings the results. Each MCP call carries the
CLI's tool-use id (`_meta["claudecode/toolUseId"]`), the same id the client gets for the call, so
a result goes to exactly the call it answers, in whatever order results come back.

Why not the SDK's `create_sdk_mcp_server`: it validates Claude's arguments against the client's
schema and, when they do not match, answers the CLI with an error by itself, so the CLI goes on
without the client's result although the client already received the call. Here, as with
OpenAI, the client validates: every call waits for the client's answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import McpSdkServerConfig
from mcp.server import Server
from mcp.types import CallToolResult, ImageContent, ListToolsResult, TextContent, Tool

from ...core.messages import Block, Message, ToolSpec

SERVER = "client"
PREFIX = f"mcp__{SERVER}__"  # how Claude sees the client's function `name`: mcp__client__name
TOOL_USE_ID = "claudecode/toolUseId"  # where the CLI names the call in an MCP request's _meta
# Without a size hint Claude Code keeps results over ~50 KB in a file and shows Claude a 2 KB
# preview, which chat mode (no file tools) cannot read further.
MAX_RESULT_CHARS = 10_000_000
# Where Claude Code's tool search is on (it is, by default, wherever MCP tools are), an MCP tool is
# deferred: Claude sees only its name until its ToolSearch tool loads it. A tool listed with this
# set stays in view from the first step; a function the client asked to defer is listed without it.
ALWAYS_LOAD = "anthropic/alwaysLoad"
# The tool that loads them (engine/processes/options.py): how a client's deferral is served, not a
# tool that does anything, so not reported as activity; the client sees the call it leads to.
TOOL_SEARCH = "ToolSearch"


def claude_name(name: str) -> str:
    return PREFIX + name


def client_name(name: str) -> str | None:
    """The client's function name for a Claude tool name, or None if it is not a client tool."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else None


@dataclass
class ToolResult:
    """The client's answer to one call: text, or Anthropic content blocks (text, images)."""

    content: str | list[Block]
    is_error: bool = False


class ToolBridge:
    def __init__(self, specs: tuple[ToolSpec, ...]) -> None:
        self.specs = specs
        self._results: dict[str, asyncio.Future[ToolResult]] = {}  # by tool-use id
        self.calling = asyncio.Event()  # set while a call of Claude's waits for the client's result
        tools = [
            Tool(
                name=spec.name,
                description=spec.description,
                input_schema={"type": "object", "properties": {}, **json.loads(spec.schema)},
                _meta={"anthropic/maxResultSizeChars": MAX_RESULT_CHARS, ALWAYS_LOAD: not spec.deferred},
            )
            for spec in specs
        ]

        async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
            return ListToolsResult(tools=tools)

        async def call_tool(ctx: Any, params: Any) -> CallToolResult:
            return _mcp_result(await self.wait(str((params.meta or {}).get(TOOL_USE_ID) or "")))

        server: Server[Any] = Server(SERVER, version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)
        self.server = McpSdkServerConfig(type="sdk", name=SERVER, instance=server)

    @property
    def allowed(self) -> list[str]:
        return [claude_name(spec.name) for spec in self.specs]

    def _result(self, call_id: str) -> asyncio.Future[ToolResult]:
        future = self._results.get(call_id)
        if future is None:
            future = self._results[call_id] = asyncio.get_running_loop().create_future()
        return future

    async def wait(self, call_id: str) -> ToolResult:
        """The client's answer to call `call_id` (a function's result, or an approval: approvals.py),
        once it comes; `calling` is set while Claude Code waits for one."""
        result = self._result(call_id)
        if not result.done():
            self.calling.set()
        try:
            return await result
        finally:
            if all(future.done() for future in self._results.values()):
                self.calling.clear()

    def waiting(self) -> list[str]:
        """The ids of Claude's calls whose results have not come yet."""
        return [call_id for call_id, future in self._results.items() if not future.done()]

    def deliver(self, call_id: str, result: ToolResult) -> None:
        """The client's result for call `call_id`: to its handler, waiting or still to come."""
        future = self._result(call_id)
        if not future.done():
            future.set_result(result)


def results_for(calls: list[list[str]], prompt: Message) -> dict[str, ToolResult] | None:
    """The client's result for each held call ([id, name, arguments]) by call id, if the prompt is
    exactly those results; None if it is anything else."""
    results: dict[str, ToolResult] = {}
    for block in prompt.content:
        if block.get("type") != "tool_result":
            return None
        content = block.get("content")
        results[block.get("tool_use_id", "")] = ToolResult(
            content if isinstance(content, (str, list)) else json.dumps(content), bool(block.get("is_error"))
        )
    if set(results) != {call_id for call_id, _, _ in calls}:
        return None
    return results


def _mcp_result(result: ToolResult) -> CallToolResult:
    """The client's result as MCP content: text stays text, base64 images become images (Claude
    Code hands those on to Claude as image blocks); an image by URL is named in text."""
    if isinstance(result.content, str):
        return CallToolResult(content=[TextContent(type="text", text=result.content)], is_error=result.is_error)
    content: list[TextContent | ImageContent] = []
    for block in result.content:
        source = block.get("source") or {}
        if block.get("type") == "image" and source.get("type") == "base64" and _is_base64(source.get("data", "")):
            content.append(ImageContent(type="image", data=source["data"], mime_type=source.get("media_type", "")))
        elif block.get("type") == "image":
            content.append(TextContent(type="text", text=f"[image: {source.get('url', 'not included')}]"))
        elif block.get("type") == "text":
            content.append(TextContent(type="text", text=str(block.get("text", ""))))
        else:
            content.append(TextContent(type="text", text=json.dumps(block)))
    return CallToolResult(content=content, is_error=result.is_error)


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
