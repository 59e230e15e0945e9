"""Claude's calls of the client's tools as Responses output items, whole and streamed, in the shape
of the tool's type: `function_call` (a namespaced function with its own name and namespace),
`custom_tool_call` (the raw input, streamed as `response.custom_tool_call_input.delta` / `.done`),
`local_shell_call`, `shell_call` and `apply_patch_call` (an action that is only whole once
Claude's arguments are: added and done together when the call ends); and a remote MCP call that
waits for the client's approval, as `mcp_approval_request` (mcp_items.py: its arguments whole), as
is agent mode's permission prompt (the reserved PERMISSION_FUNCTION: engine/agent/prompts.py), which
is only shown once whole (its tool's name is in its arguments)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.agent import PERMISSION_FUNCTION
from ...core.hosted import needs_approval
from ..answer import Part
from ..custom_tools import RawInput, raw_input
from . import mcp_items, shell_tools
from . import wire as orq
from .client_tools import kinds
from .namespaces import claude_names

Event = tuple[str, dict[str, Any]]  # a stream event's type and fields
APPROVAL = "mcp_approval_request"
PERMISSION = "permission"  # agent mode's permission prompt: an mcp_approval_request, shown once whole


class CallItems:
    """How the calls of one request's tools are shown (module docstring)."""

    def __init__(self, tools: Sequence[orq.AnyTool] | None) -> None:
        self.namespaced = claude_names(tools)  # Claude's name of a namespaced function -> its own
        self.kinds = kinds(tools)  # Claude's name of a custom, shell or patch tool -> its type
        self.remote = mcp_items.remote_servers(list(tools or []))  # their calls may wait for approval
        self._inputs: dict[str, RawInput] = {}  # a streaming custom call's input, by part

    def kind(self, part: Part) -> str:
        if needs_approval(self.remote, part.name):
            return APPROVAL
        if part.name == PERMISSION_FUNCTION:
            return PERMISSION
        return self.kinds.get(part.name, "function")

    def item_id(self, part: Part) -> str:
        kind = self.kind(part)
        if kind in (APPROVAL, PERMISSION):
            return part.call_id  # the approval request's id: the call's own, which the engine holds
        prefix = "fc_" if kind == "function" else "ctc_" if kind == "custom" else shell_tools.ID_PREFIXES[kind]
        return prefix + part.key

    def item(self, part: Part, status: str) -> dict[str, Any]:
        kind, item_id = self.kind(part), self.item_id(part)
        if kind == APPROVAL:
            return mcp_items.approval_request(part, self.remote) or {}
        if kind == PERMISSION:
            return mcp_items.permission_request(part)
        if kind == "function":
            namespace, name = self.namespaced.get(part.name, (None, part.name))
            return {
                "type": "function_call",
                "id": item_id,
                "call_id": part.call_id,
                "name": name,
                **({"namespace": namespace} if namespace else {}),
                "arguments": part.text,
                "status": status,
            }
        if kind == "custom":
            return {
                "type": "custom_tool_call",
                "id": item_id,
                "call_id": part.call_id,
                "name": part.name,
                "input": raw_input(part.text),
                "status": status,
            }
        return shell_tools.call_item(kind, item_id, part.call_id, part.text, status)

    # streamed
    def opening(self, part: Part) -> dict[str, Any] | None:
        """The item `response.output_item.added` shows as the call begins; None: shown when it ends."""
        kind = self.kind(part)
        if kind in ("function", APPROVAL):
            return {**self.item(part, "in_progress"), "arguments": ""}
        if kind == "custom":
            self._inputs[part.key] = RawInput()
            return {**self.item(part, "in_progress"), "input": ""}
        return None

    def delta(self, part: Part, arguments: str) -> tuple[str, str] | None:
        """The delta event (type, piece) for a piece of Claude's arguments; None: nothing to show yet."""
        kind = self.kind(part)
        if kind == "function":
            return "response.function_call_arguments.delta", arguments
        if kind == "custom":
            piece = self._inputs[part.key].feed(arguments)
            return ("response.custom_tool_call_input.delta", piece) if piece else None
        return None

    def closing(self, part: Part, where: dict[str, Any]) -> list[Event]:
        """The events before the call's `response.output_item.done` (`where`: its item_id, output_index)."""
        kind = self.kind(part)
        if kind == APPROVAL:
            return []  # its arguments go out whole, in its item
        if kind == "function":
            return [("response.function_call_arguments.done", {**where, "arguments": part.text})]
        if kind == "custom":
            rest = self._inputs.pop(part.key).rest(part.text)
            done = ("response.custom_tool_call_input.done", {**where, "input": raw_input(part.text)})
            return [("response.custom_tool_call_input.delta", {**where, "delta": rest}), done] if rest else [done]
        item = self.item(part, "in_progress")
        return [("response.output_item.added", {"output_index": where["output_index"], "item": item})]
