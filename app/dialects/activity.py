"""Agent mode: the tools Claude Code ran itself, in each door's own shape. Pure functions, no I/O.

The client never runs these tools nor sends them back; it is told what ran, in order with the
text, whole or as it streams:
- Chat Completions: a readable line per call ("▶ Bash: ls -la") and per result ("◀ 12 lines") in
  the reasoning text, and for programs each call and result as an object: the streamed delta's
  `claude_code_event`, the whole message's `claude_code_events`.
- Anthropic Messages: the MCP connector's `mcp_tool_use` and `mcp_tool_result` blocks.
- Responses: an `mcp_call` item, with its result once it came.
A tool built into Claude Code (Bash, Read, ...) is named as from the MCP server "claude_code".
"""

from __future__ import annotations

import json
from typing import Any

from ..core.events import ToolResult, ToolUse, full_length
from ..core.hosted import is_web
from .answer import Part

BUILT_IN_SERVER = "claude_code"  # the MCP server a tool built into Claude Code is named as from
SUMMARY_CHARS = 120  # how much of a call's input or an error a chat line shows
# The input that says what a built-in tool did; other tools show their input as compact JSON.
SUMMARY_FIELDS = {
    "Bash": "command",
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Glob": "pattern",
    "Grep": "pattern",
    "Task": "description",
    "Agent": "description",
    "WebFetch": "url",
    "WebSearch": "query",
}


def tool_name(use: ToolUse) -> str:
    """The tool's own name: an MCP tool's without its `mcp__<server>__` prefix."""
    return use.name.removeprefix(f"mcp__{use.server}__") if use.server else use.name


def _compact(use: ToolUse) -> str:
    return json.dumps(use.input, ensure_ascii=False, separators=(",", ":"))


def _short(text: str) -> str:
    """One line of at most SUMMARY_CHARS characters."""
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _where(event: ToolUse | ToolResult) -> dict[str, str]:
    """The MCP server and the subagent call of a call or result, where it has them."""
    fields = {"server": event.server, "parent": event.parent}
    return {name: value for name, value in fields.items() if value is not None}


# --- Chat Completions --------------------------------------------------------------------------------
def chat_line(event: ToolUse | ToolResult) -> str:
    """The reasoning line of a call or a result; a subagent's are indented under its call."""
    if isinstance(event, ToolUse):
        field = SUMMARY_FIELDS.get(event.name, "")
        if event.server:
            line = f"▶ {event.server}.{tool_name(event)} {_short(_compact(event))}"
        elif isinstance(event.input.get(field), str):
            line = f"▶ {event.name}: {_short(event.input[field])}"
        else:
            line = f"▶ {event.name} {_short(_compact(event))}"
    elif event.is_error:
        line = f"◀ error: {_short(next(iter(event.output.strip().splitlines()), ''))}"
    elif (length := full_length(event.output)) is not None:
        line = f"◀ {length:,} characters"
    else:
        count = len(event.output.splitlines())
        line = "◀ no output" if not count else f"◀ {count} line" if count == 1 else f"◀ {count} lines"
    return f"  {line}\n" if event.parent else f"{line}\n"


def on_its_own_line(before: str, line: str) -> str:
    """A chat line as it follows the reasoning text `before` (or its end): on a line of its own."""
    return line if not before or before.endswith("\n") else "\n" + line


def chat_event(event: ToolUse | ToolResult) -> dict[str, Any]:
    """A call or a result as a program reads it (`claude_code_event`)."""
    if isinstance(event, ToolUse):
        body: dict[str, Any] = {"type": "tool_use", "id": event.id, "name": event.name, "input": event.input}
    else:
        body = {"type": "tool_result", "tool_use_id": event.id, "name": event.name, "output": event.output}
        body["is_error"] = event.is_error
    return {**body, **_where(event)}


def _events(part: Part) -> list[ToolUse | ToolResult]:
    """A tool part's call, and its result once it came; nothing for another part, nor for a hosted
    web call (dialects/hosted.py: Chat shows those as citations only)."""
    if part.use is not None and is_web(part.use.hosted):
        return []
    return [event for event in (part.use, part.result) if event is not None]


def chat_reasoning(parts: list[Part]) -> str:
    """The whole message's reasoning text: its thinking, and a line per call and result, in order."""
    text = ""
    for part in parts:
        if part.kind == "thinking":
            text += part.text
        for event in _events(part):
            text += on_its_own_line(text, chat_line(event))
    return text


def chat_events(parts: list[Part]) -> list[dict[str, Any]]:
    """The whole message's `claude_code_events`."""
    return [chat_event(event) for part in parts for event in _events(part)]


# --- Anthropic Messages ------------------------------------------------------------------------------
def mcp_block(event: ToolUse | ToolResult) -> dict[str, Any]:
    """A call as an `mcp_tool_use` block, a result as an `mcp_tool_result` block."""
    if isinstance(event, ToolResult):
        content = [{"type": "text", "text": event.output}] if event.output else []
        return {"type": "mcp_tool_result", "tool_use_id": event.id, "is_error": event.is_error, "content": content}
    block = {
        "type": "mcp_tool_use",
        "id": event.id,
        "name": tool_name(event),
        "server_name": event.server or BUILT_IN_SERVER,
        "input": event.input,
    }
    return {**block, "parent_tool_use_id": event.parent} if event.parent else block


def mcp_blocks(part: Part) -> list[dict[str, Any]]:
    return [mcp_block(event) for event in _events(part)]


# --- Responses ---------------------------------------------------------------------------------------
def responses_item(part: Part, finished: bool) -> dict[str, Any]:
    """A tool part as an `mcp_call` output item: in progress until its result came (incomplete if
    the response `finished` without it), then completed, or failed for an error. A built-in tool
    too, from the server "claude_code": clients and frameworks know an mcp_call as a tool that
    already ran (the OpenAI Agents SDK reads an item type it does not know as a message, and
    fails on its missing content)."""
    use, result = part.use, part.result
    assert use is not None
    failed = result is not None and result.is_error
    output = result.output if result is not None else None
    if result is None:
        status = "incomplete" if finished else "in_progress"
    else:
        status = "failed" if failed else "completed"
    item = {
        "type": "mcp_call",
        "id": use.id,
        "server_label": use.server or BUILT_IN_SERVER,
        "name": tool_name(use),
        "arguments": json.dumps(use.input, ensure_ascii=False),
        "output": None if failed else output,
        # As OpenAI reports a tool's own error: an MCP tool execution error, with its content.
        "error": {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": output}]}
        if failed
        else None,
        "status": status,
    }
    return {**item, "parent_tool_use_id": use.parent} if use.parent else item
