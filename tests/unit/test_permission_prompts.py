"""Agent mode's permission prompts (app/engine/agent/prompts.py): the client's answer as the hook
reads it, which calls are asked about (only those the permission mode does not give), each decided
once so that the reader and the hook agree, and an approved call checked again against the refusals."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from claude_agent_sdk import AssistantMessage, StreamEvent, ToolUseBlock

from app.core.agent import PERMISSION_FUNCTION, AgentConfig
from app.core.events import Finish, ToolUse
from app.engine.agent.permissions import ToolGate
from app.engine.agent.prompts import PermissionPrompts, answer
from app.engine.agent.setup import sdk_options
from app.engine.processes.tools import ToolBridge, ToolResult
from app.engine.reading.reader import TurnReader


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (json.dumps({"approve": True}), (True, "")),
        (json.dumps({"approve": False, "reason": "not there"}), (False, "not there")),
        (json.dumps({"approved": True, "reason": "fine"}), (True, "fine")),
        (json.dumps({"decision": "allow"}), (True, "")),
        (json.dumps({"behavior": "deny", "message": "too risky"}), (False, "too risky")),
        ("true", (True, "")),
        ("false", (False, "")),
        ("allow", (True, "")),
        ("Yes.", (True, "")),
        ("deny: outside the task", (False, "outside the task")),
        ("No - use a scratch file", (False, "use a scratch file")),
        ("maybe later", (False, "maybe later")),
        (json.dumps({"approve": "yes"}), (False, "")),  # not a boolean: no permission
        ([{"type": "text", "text": "approve"}], (True, "")),
        ("", (False, "")),
        (json.dumps([1, 2]), (False, "")),
    ],
)
def test_the_clients_answer_is_read_leniently_and_anything_unclear_is_no(content, expected):
    assert answer(content) == expected


def prompts(workspace: Path, bridge: ToolBridge, **config) -> PermissionPrompts:
    return PermissionPrompts(ToolGate(AgentConfig(**config), workspace, [workspace]), bridge.wait)


async def run_hook(prompts: PermissionPrompts, call_id: str, tool: str, tool_input: dict, **extra) -> dict:
    hook_input = {"tool_name": tool, "tool_input": tool_input, **extra}
    return (await prompts.hook(hook_input, call_id, None))["hookSpecificOutput"]


def test_only_what_the_mode_does_not_give_is_asked_about(tmp_path):
    async def main():
        asked = prompts(tmp_path, ToolBridge(()), disallowed_tools=("Edit(secret/**)",))
        assert asked.asks("w", "Write", {"file_path": "a.txt", "content": "x"})
        assert not asked.asks("r", "Read", {"file_path": "a.txt"})  # default mode gives it
        assert not asked.asks("b", "Bash", {"command": "ls"})
        assert not asked.asks("o", "Write", {"file_path": "/etc/x", "content": "x"})  # outside: refused
        assert not asked.asks("d", "Write", {"file_path": "secret/x", "content": "x"})  # disallowed: refused
        assert not asked.asks("n", "WebFetch", {"url": "https://example.com"})  # not enabled: refused
        refused = await run_hook(asked, "o", "Write", {"file_path": "/etc/x", "content": "x"})
        assert refused["permissionDecision"] == "deny" and "outside" in refused["permissionDecisionReason"]

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["plan", "dontAsk"])
def test_modes_that_never_ask_refuse_as_before(tmp_path, mode):
    async def main():
        asked = prompts(tmp_path, ToolBridge(()), permission_mode=mode)
        call = {"file_path": "a.txt", "content": "x"}
        assert not asked.asks("w", "Write", call)
        decided = await run_hook(asked, "w", "Write", call)
        assert decided["permissionDecision"] == "deny" and "needs permission" in decided["permissionDecisionReason"]

    asyncio.run(main())


def test_the_hook_waits_for_the_answer_and_a_denial_carries_the_reason(tmp_path):
    async def main():
        bridge = ToolBridge(())
        asked = prompts(tmp_path, bridge)
        call = {"file_path": "a.txt", "content": "x"}
        waiting = asyncio.ensure_future(run_hook(asked, "w1", "Write", call))
        await asyncio.sleep(0.01)
        assert not waiting.done() and bridge.waiting() == ["w1"]
        bridge.deliver("w1", ToolResult(json.dumps({"approve": False, "reason": "read only today"})))
        denied = await waiting
        assert denied["permissionDecision"] == "deny" and "read only today" in denied["permissionDecisionReason"]
        bridge.deliver("w2", ToolResult("yes"))
        assert (await run_hook(asked, "w2", "Write", call))["permissionDecision"] == "allow"

    asyncio.run(main())


def test_a_subagents_call_is_refused_as_without_prompts(tmp_path):
    async def main():
        asked = prompts(tmp_path, ToolBridge(()))
        decided = await run_hook(asked, "s1", "Write", {"file_path": "a.txt", "content": "x"}, agent_id="sub")
        assert decided["permissionDecision"] == "deny" and "needs permission" in decided["permissionDecisionReason"]

    asyncio.run(main())


def test_a_call_is_decided_once_and_an_approved_one_is_checked_again(tmp_path):
    """A link planted after the reader's look: the hook still waits (they agree), and the approved
    call is refused, for it now leads out of the workspace."""

    async def main():
        bridge = ToolBridge(())
        asked = prompts(tmp_path, bridge)
        call = {"file_path": "later/x.txt", "content": "x"}
        assert asked.asks("w", "Write", call)  # as the reader sees it: inside, so asked about
        os.symlink("/etc", tmp_path / "later")
        assert asked.asks("w", "Write", call)  # the same verdict for the hook
        assert not prompts(tmp_path, bridge).asks("w", "Write", call)  # decided now: refused
        bridge.deliver("w", ToolResult(json.dumps({"approve": True})))
        decided = await run_hook(asked, "w", "Write", call)
        assert decided["permissionDecision"] == "deny" and "outside" in decided["permissionDecisionReason"]

    asyncio.run(main())


def test_a_process_asks_only_if_the_request_opted_in_and_has_a_bridge(tmp_path):
    bridge = ToolBridge(())
    assert sdk_options(AgentConfig(), tmp_path, None, bridge.wait)["permission_prompts"] is None
    assert sdk_options(AgentConfig(permission_prompts=True), tmp_path, None)["permission_prompts"] is None
    options = sdk_options(AgentConfig(permission_prompts=True), tmp_path, None, bridge.wait, 90.0)
    assert isinstance(options["permission_prompts"], PermissionPrompts)
    assert options["hooks"]["PreToolUse"][0].timeout == 90.0


WRITE_START = {"type": "tool_use", "id": "toolu_w", "name": "Write", "input": {}}
STOP = {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}}
ASKED = {"type": "tool_use", "id": "toolu_w", "name": PERMISSION_FUNCTION}


def permission_turn(stop_first: bool) -> tuple[TurnReader, list]:
    """A streamed answer whose Write is asked about; its stop reason after the block's whole frame
    (as CLI 2.1.329 sends them) or, `stop_first`, before it."""
    asks = lambda call_id, tool, tool_input: tool == "Write"  # noqa: E731
    reader = TurnReader(default_retry_after=9, asks=asks)
    write = ToolUseBlock(id="toolu_w", name="Write", input={"file_path": "a.txt", "content": "x"})
    start = {"type": "message_start", "message": {"id": "m1", "model": "claude-x", "usage": {"input_tokens": 5}}}
    frames = [
        StreamEvent(uuid="u", session_id="s", event=start),
        StreamEvent(uuid="u", session_id="s", event={"type": "content_block_start", "content_block": WRITE_START}),
        AssistantMessage(content=[write], model="claude-x", message_id="m1"),
        StreamEvent(uuid="u", session_id="s", event=STOP),
    ]
    if stop_first:
        frames[2], frames[3] = frames[3], frames[2]
    return reader, [event for frame in frames for event in reader.feed(frame)]


def test_an_asked_call_ends_the_answer_as_a_call_of_the_reserved_function():
    reader, events = permission_turn(stop_first=False)
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "tool_use"
    assert finish.message.content == [
        {**ASKED, "input": {"tool": "Write", "input": {"file_path": "a.txt", "content": "x"}}}
    ]
    assert not [event for event in events if isinstance(event, ToolUse)]  # activity only once it ran
    assert not reader.unstreamed_calls_pending


def test_an_asked_call_whose_stop_came_first_ends_the_answer_once_the_cli_waits():
    reader, events = permission_turn(stop_first=True)
    assert not [event for event in events if isinstance(event, Finish)]
    assert reader.unstreamed_calls_pending
    (finish,) = reader.end_unstreamed_calls()
    assert (
        isinstance(finish, Finish)
        and finish.reason == "tool_use"
        and finish.message.content[0]["name"] == PERMISSION_FUNCTION
    )
