"""Agent mode's permission prompts (`claude_code.permission_prompts`): a call that the permission
mode does not give waits for the client's answer instead of being refused, as Claude Code asks its
user. Only that: a call a refusal covers (tools not enabled, disallowed rules, paths outside the
workspace, models, WebFetch hosts: permissions.py `refusal`) is refused without asking, and so
is everything `plan` and `dontAsk` do not give (Claude Code does not ask in those modes either).

How it waits is how remote MCP approvals wait (engine/processes/approvals.py): the reader reports
the call as a call the client answers, of the reserved function PERMISSION_FUNCTION
(core/agent.py), so the answer ends with it and the router holds the turn; the client's answer
comes back as that call's result, which the router delivers to the tool bridge, where this hook
waits for it.

Why the reader and the hook never disagree about which calls wait: both ask `asks` here, and it
decides each call (by Claude Code's tool-use id) once, with the hook's own ToolGate, and remembers
it. Deciding twice could differ, because a refusal looks at the disk (a path's symlinks: a command
may plant one between the reader's look and the hook's): the reader would end the answer with a
call the hook never waits for, or the hook would wait for an answer the client was never asked.
Whichever comes first decides; the other reads its verdict. An approved call is checked once more
against the refusals when it is about to run: approving cannot lead around them.
A subagent's calls are never asked about (the hook input names its `agent_id`; the reader sees the
call's parent): the client sees a subagent's calls only as activity, so they are refused as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from .permissions import ToolGate

# The modes in which Claude Code asks its user; `plan` and `dontAsk` refuse what they do not give.
ASKING_MODES = ("default", "acceptEdits")
Wait = Callable[[str], Awaitable[Any]]  # the tool bridge's wait: the client's result for a call id
YES = {"approve", "approved", "allow", "allowed", "yes", "y", "true", "ok", "accept", "accepted"}
NO = {"deny", "denied", "reject", "rejected", "no", "n", "false", "refuse", "refused", "decline", "declined"}


class PermissionPrompts:
    def __init__(self, gate: ToolGate, wait: Wait) -> None:
        self.gate, self.wait = gate, wait
        self._verdicts: dict[str, bool] = {}  # tool-use id -> whether it waits for the client

    def asks(self, tool_use_id: str, tool: str, tool_input: dict[str, Any]) -> bool:
        """Whether this (main agent's) call waits for the client's answer; decided once per call."""
        verdict = self._verdicts.get(tool_use_id)
        if verdict is None:
            refused = self.gate.refusal(tool, tool_input) is not None
            verdict = not refused and not self.gate.mode_gives(tool, tool_input)
            self._verdicts[tool_use_id] = verdict = verdict and self.gate.config.permission_mode in ASKING_MODES
        return verdict

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        tool_input = dict(hook_input.get("tool_input") or {})
        if hook_input.get("agent_id") or not tool_use_id or not self.asks(tool_use_id, tool, tool_input):
            return await self.gate.hook(hook_input, tool_use_id, context)
        approve, reason = answer((await self.wait(tool_use_id)).content)
        refusal = None if not approve else self.gate.refusal(tool, tool_input)  # the disk may have changed
        if approve and refusal is None:
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
        why = f" ({reason})" if reason else ""
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": refusal
                or f"The user did not give permission for this call of {tool}{why}.",
            }
        }


def answer(content: object) -> tuple[bool, str]:
    """The client's answer, from the call's result: JSON `{"approve": bool, "reason": str}` (also
    `approved`/`allow`, or `decision`/`behavior`/`permission`: "allow"/"deny"), a JSON boolean, or
    text whose first word is yes/allow/approve... or no/deny/reject... (the rest is the reason).
    Text blocks are read as their text. Anything else is no permission."""
    if isinstance(content, list):
        content = " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    text = str(content or "").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, dict):
        reason = str(value.get("reason") or value.get("message") or "")
        for field in ("approve", "approved", "allow"):
            if isinstance(value.get(field), bool):
                return value[field], reason
        for field in ("decision", "behavior", "permission"):
            if isinstance(value.get(field), str):
                return _word(value[field]) is True, reason
        return False, reason
    if isinstance(value, str):
        first, _, rest = value.partition(" ")
        verdict = _word(first)
        return verdict is True, rest.strip(" :,.-") if verdict is not None else value
    return False, ""


def _word(word: str) -> bool | None:
    word = word.strip().strip(".,:;!").lower()
    return True if word in YES else False if word in NO else None
