"""Approval of remote MCP calls (the Responses API's `require_approval`): a call that needs it waits
for the client's `mcp_approval_response`, held exactly like a call of the client's functions.

Why a PreToolUse hook, and not `can_use_tool`: the CLI asks `can_use_tool` only about tools its
rules do not allow already, and the rules cannot name a server's tools before it listed them ("all
but these" needs the server-wide rule `mcp__<label>`, which then allows them all). The hook sees
every call, and decides by the request's own rules (core/hosted.py `needs_approval`).

How it waits: the reader reports such a call as a call the client answers (reading/reader.py), so
the answer ends with it (doors: an `mcp_approval_request` item) and the router holds the turn as
for a function call (turns/router.py). The client's approval comes back as that call's result
(dialects: a tool_result whose content is `{"approve": bool, "reason": ...}`), which the router
delivers to the tool bridge (tools.py), where this hook waits for it. Approved: the call runs.
Denied: Claude Code tells Claude the call was refused, with the client's reason.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.hosted import RemoteServer, needs_approval
from .tools import ToolBridge


class ApprovalGate:
    def __init__(self, servers: tuple[RemoteServer, ...], bridge: ToolBridge) -> None:
        self.servers, self.bridge = servers, bridge

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        if not tool_use_id or not needs_approval(self.servers, tool):
            return {}  # no opinion: the process's rules decide (a remote server's tools are allowed)
        approve, reason = decision((await self.bridge.wait(tool_use_id)).content)
        output: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": "allow" if approve else "deny"}
        if not approve:
            why = f" ({reason})" if reason else ""
            output["permissionDecisionReason"] = f"The user did not approve this call of {tool}{why}."
        return {"hookSpecificOutput": output}


def decision(content: object) -> tuple[bool, str]:
    """An approval as the dialects write it into the call's result; anything else is no approval."""
    try:
        answer = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return False, ""
    return answer.get("approve") is True, str(answer.get("reason") or "")
