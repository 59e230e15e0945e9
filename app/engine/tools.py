"""The client's functions, offered to Claude as in-process MCP tools.

When Claude calls one, the answer goes back to the client as `tool_calls`, and the Claude turn
waits ("held") until the client's next request brings the results. The CLI runs the calls of
one answer one after another, in order, and gives a handler only the arguments (no call id), so
results are matched to handler calls by function name, first in first out. (Matching on the
arguments too broke on numbers: Claude's 1.0 reaches the handler as 1.)
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from claude_agent_sdk import ToolAnnotations, create_sdk_mcp_server, tool

from .types import Message, ToolSpec

SERVER = "client"
PREFIX = f"mcp__{SERVER}__"  # how Claude sees the client's function `name`: mcp__client__name
MAX_RESULT_CHARS = 10_000_000  # keep the client's results inline (the body limit bounds them anyway)


def claude_name(name: str) -> str:
    return PREFIX + name


def client_name(name: str) -> str | None:
    """The client's function name for a Claude tool name, or None if it is not a client tool."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else None


def sdk_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The client's schema in a form the SDK passes through unchanged: it reads a schema without
    both `type` and `properties` as a map of parameter names to types, and rewrites it."""
    return {"type": "object", "properties": {}, **schema}


class ToolBridge:
    def __init__(self, specs: tuple[ToolSpec, ...]) -> None:
        self.specs = specs
        self._waiting: dict[str, deque[asyncio.Future[str]]] = {}  # by function name
        self._ready: dict[str, deque[str]] = {}
        self.server = create_sdk_mcp_server(SERVER, "1.0", [self._handler(spec) for spec in specs])

    @property
    def allowed(self) -> list[str]:
        return [claude_name(spec.name) for spec in self.specs]

    def _handler(self, spec: ToolSpec):  # type: ignore[no-untyped-def]
        # Without the size hint Claude Code keeps results over ~50 KB in a file and shows Claude a
        # 2 KB preview, which chat mode (no file tools) cannot read further.
        @tool(
            spec.name,
            spec.description,
            sdk_schema(json.loads(spec.schema)),
            annotations=ToolAnnotations(maxResultSizeChars=MAX_RESULT_CHARS),
        )
        async def call(arguments: dict[str, Any]) -> dict[str, Any]:
            key = spec.name
            ready = self._ready.get(key)
            if ready:
                result = ready.popleft()
            else:
                future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                self._waiting.setdefault(key, deque()).append(future)
                result = await future
            return {"content": [{"type": "text", "text": result}]}

        return call

    def deliver(self, name: str, result: str) -> None:
        """The client's result for the next call of `name`: to its handler, waiting or to come."""
        key = name
        waiting = self._waiting.get(key)
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(result)
                return
        self._ready.setdefault(key, deque()).append(result)

    def cancel(self) -> None:
        for waiting in self._waiting.values():
            for future in waiting:
                if not future.done():
                    future.cancel()
        self._waiting.clear()
        self._ready.clear()


def results_for(calls: list[list[str]], prompt: Message) -> list[str] | None:
    """The client's result for each held call ([id, name, arguments]), if the prompt is exactly
    those results; None if it is anything else."""
    results: dict[str, str] = {}
    for block in prompt.content:
        if block.get("type") != "tool_result":
            return None
        content = block.get("content")
        results[block.get("tool_use_id", "")] = content if isinstance(content, str) else json.dumps(content)
    if set(results) != {call_id for call_id, _, _ in calls}:
        return None
    return [results[call_id] for call_id, _, _ in calls]
