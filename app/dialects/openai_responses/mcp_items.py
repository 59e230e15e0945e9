"""Remote MCP servers in the Responses API's own shapes: the request's `mcp` tools as the neutral
`RemoteServer` (for inbound.py), and what outbound.py builds the response with: the
`mcp_list_tools` item of a server's tools; the stream events of `mcp_call` items (a remote
server's calls, and agent mode's tools, which are mcp_call items too: dialects/activity.py); the
request's `mcp` tools as the response echoes them, without their headers; a call that waits for
the client's approval as an `mcp_approval_request` item (engine/processes/approvals.py), and once
approved, as an mcp_call naming its approval request; agent mode's permission prompts in the same
shape, and back (engine/agent/prompts.py). Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...core.agent import PERMISSION_FUNCTION, PERMISSION_SERVER
from ...core.events import ToolList
from ...core.hosted import RemoteServer, needs_approval
from ...core.jsontext import partial_object
from ...core.messages import Block
from ..answer import Part, random_id
from ..remote_mcp import bearer, checked_label, checked_url, connectors_refused, transport, unique
from ..request_rules import tool_call
from . import wire as orq

Emit = Callable[..., str]  # ResponseBuilder._event: an event's type and fields -> its frame
SECRET_FIELDS = {"headers", "authorization"}  # sent to the server only: never echoed nor stored


def remote_servers(tools: list[orq.AnyTool]) -> tuple[RemoteServer, ...]:
    """The request's `mcp` tools as remote MCP servers (dialects/remote_mcp.py). OpenAI's default
    asks for approval of every call; the headers and `authorization` go to the server only."""
    servers = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, orq.McpTool):
            continue
        if tool.connector_id is not None:
            raise connectors_refused(f"tools[{i}].connector_id")
        url = checked_url(tool.server_url, f"tools[{i}].server_url")
        allowed = (
            tool.allowed_tools.tool_names if isinstance(tool.allowed_tools, orq.McpToolFilter) else tool.allowed_tools
        )
        approval, always, never = tool.require_approval or "always", None, None
        if isinstance(approval, orq.McpApprovalFilter):
            always, never = approval.always, approval.never
        servers.append(
            RemoteServer(
                label=checked_label(tool.server_label, f"tools[{i}].server_label"),
                url=url,
                transport=transport(url),
                headers=bearer(tool.authorization, tool.headers or {}),
                allowed_tools=tuple(allowed) if allowed is not None else None,
                description=tool.server_description,
                approval=approval != "never",
                approval_always=tuple(always.tool_names or ()) if always else (),
                approval_never=tuple(never.tool_names or ()) if never else (),
            )
        )
    return unique(servers, "tools")


def unapplied_filters(tools: list[orq.AnyTool]) -> list[str]:
    """The filters' `read_only`, which a server's tools do not say (ignored-parameters header)."""
    found = []
    for i, tool in enumerate(tools):
        if isinstance(tool, orq.McpTool):
            filters = [("allowed_tools", tool.allowed_tools)]
            if isinstance(tool.require_approval, orq.McpApprovalFilter):
                filters += [("require_approval.always", tool.require_approval.always)]
                filters += [("require_approval.never", tool.require_approval.never)]
            found += [
                f"tools[{i}].{name}.read_only"
                for name, f in filters
                if isinstance(f, orq.McpToolFilter) and f.read_only is not None
            ]
    return found


def echoed(tool: orq.AnyTool) -> dict[str, Any]:
    """A request's tool as the response shows it: an `mcp` tool without its headers and token
    (the response is stored, and read back by GET /v1/responses/{id})."""
    exclude = SECRET_FIELDS if isinstance(tool, orq.McpTool) else set()
    return tool.model_dump(exclude_none=True, exclude=exclude)


def list_item(listing: ToolList) -> dict[str, Any]:
    tools = [
        {
            "name": tool.get("name", ""),
            "description": tool.get("description"),
            "input_schema": tool.get("inputSchema") or {"type": "object"},
            "annotations": tool.get("annotations"),
        }
        for tool in listing.tools
    ]
    item = {"type": "mcp_list_tools", "id": random_id("mcpl_"), "server_label": listing.server, "tools": tools}
    return {**item, "error": listing.error} if listing.error else item


def list_frames(emit: Emit, item: dict[str, Any], index: int) -> list[str]:
    """A tool list's events, all at once: it was listed before Claude began."""
    where = {"item_id": item["id"], "output_index": index}
    ended = "response.mcp_list_tools.failed" if item.get("error") else "response.mcp_list_tools.completed"
    return [
        emit("response.output_item.added", output_index=index, item={**item, "tools": []}),
        emit("response.mcp_list_tools.in_progress", **where),
        emit(ended, **where),
        emit("response.output_item.done", output_index=index, item=item),
    ]


def call_frames(emit: Emit, item: dict[str, Any], index: int) -> list[str]:
    """An mcp_call's events once it is added: in progress, its arguments (whole: Claude Code reports
    a call once its input is complete)."""
    where = {"item_id": item["id"], "output_index": index}
    return [
        emit("response.mcp_call.in_progress", **where),
        emit("response.mcp_call_arguments.delta", **where, delta=item["arguments"]),
        emit("response.mcp_call_arguments.done", **where, arguments=item["arguments"]),
    ]


def call_done_frames(emit: Emit, item: dict[str, Any], index: int) -> list[str]:
    """An mcp_call's end, before its output_item.done: completed or failed (none if it never ended)."""
    if item["type"] != "mcp_call":
        return []
    ended = {"completed": "response.mcp_call.completed", "failed": "response.mcp_call.failed"}.get(item["status"])
    return [emit(ended, item_id=item["id"], output_index=index)] if ended else []


def approval_request(part: Part, servers: tuple[RemoteServer, ...]) -> dict[str, Any] | None:
    """A call the client answers, if it is a remote MCP call that waits for approval, as its item."""
    if part.kind != "tool_call" or not needs_approval(servers, part.name):
        return None
    server = next(s for s in servers if part.name.startswith(s.prefix))
    name = part.name.removeprefix(server.prefix)
    item = {"type": "mcp_approval_request", "id": part.call_id, "server_label": server.label, "name": name}
    return {**item, "arguments": part.text}


def permission_request(part: Part) -> dict[str, Any]:
    """Agent mode's permission prompt (a call of PERMISSION_FUNCTION, {"tool", "input"}) as the
    approval request of a call of the server PERMISSION_SERVER: its name the tool's, its arguments the input."""
    asked = partial_object(part.text)
    tool, tool_input = asked.get("tool"), asked.get("input")
    item = {"type": "mcp_approval_request", "id": part.call_id, "server_label": PERMISSION_SERVER}
    return {
        **item,
        "name": str(tool or ""),
        "arguments": json.dumps(tool_input if isinstance(tool_input, dict) else {}),
    }


def permission_call(item: orq.McpApprovalRequestItem, param: str) -> Block:
    """An earlier permission prompt sent back: the call of PERMISSION_FUNCTION it was."""
    tool_input = tool_call(item.id, item.name, item.arguments, param)["input"]
    return {
        "type": "tool_use",
        "id": item.id,
        "name": PERMISSION_FUNCTION,
        "input": {"tool": item.name, "input": tool_input},
    }


def approved(item: dict[str, Any], part: Part, servers: tuple[RemoteServer, ...]) -> dict[str, Any]:
    """An mcp_call item; one that waited for approval names the request (its own id: the call's)."""
    use = part.use
    if use is None or use.parent is not None or not needs_approval(servers, use.name):
        return item
    return {**item, "approval_request_id": use.id}
