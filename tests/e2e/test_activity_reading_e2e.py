"""The REAL bundled CLI running its own tools (agent mode), read by the gateway's TurnReader: each
call and its result are reported once, a subagent's with its parent, and a run that reaches
max_turns ends as an answer cut short on a process that serves the next turn. This guards what
reader.py assumes of the CLI's frames (one assistant frame per content block, tool results in user
frames, the limit's result subtype) against the pinned CLI version."""

from __future__ import annotations

import pytest
from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient

from app.core.events import Finish, TextDelta, ToolResult, ToolUse
from app.engine.reading.reader import TurnReader
from tests.fakes.upstream import Reply, tool_results

pytestmark = pytest.mark.e2e

TOOLS = ["Bash", "Read", "Agent"]


def options(fake, config_dir, cwd, **extra) -> ClaudeAgentOptions:
    return ClaudeAgentOptions(
        tools=TOOLS,
        allowed_tools=TOOLS,
        permission_mode="dontAsk",
        include_partial_messages=True,
        cwd=cwd,
        env=fake.cli_env(str(config_dir)),
        setting_sources=[],
        strict_mcp_config=True,
        model="sonnet",
        **extra,
    )


async def read_turn(client: ClaudeSDKClient, prompt: str) -> list:
    reader = TurnReader(default_retry_after=9)
    await client.query(prompt)
    return [event async for message in client.receive_response() for event in reader.feed(message)]


def first_user_text(body: dict) -> str:
    content = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


async def test_the_cli_s_own_tools_and_a_subagent_s_are_reported_in_order(fake, cli_config_dir, tmp_path):
    def script(body: dict) -> Reply:
        done = len(tool_results(body))
        if "List the files" in first_user_text(body):  # the subagent's own model calls
            return Reply(tool_uses=[{"name": "Bash", "input": {"command": "echo sub"}}]) if not done else Reply("Two.")
        if not done:
            return Reply(
                "Let me look.",
                tool_uses=[
                    {"name": "Read", "input": {"file_path": str(tmp_path / "missing.txt")}},
                    {
                        "name": "Agent",
                        "input": {"description": "Look", "prompt": "List the files", "run_in_background": False},
                    },
                ],
            )
        return Reply("All done.")

    fake.default = script
    async with ClaudeSDKClient(options(fake, cli_config_dir, tmp_path)) as client:
        events = await read_turn(client, "What is here?")
    uses = [e for e in events if isinstance(e, ToolUse)]
    results = {e.id: e for e in events if isinstance(e, ToolResult)}
    read, agent, bash = uses
    assert (read.name, agent.name, bash.name) == ("Read", "Agent", "Bash")
    assert (read.parent, agent.parent, bash.parent) == (None, None, agent.id)  # the subagent's call
    assert results[read.id].is_error and "does not exist" in results[read.id].output
    assert results[bash.id] == ToolResult(bash.id, "Bash", "sub", parent=agent.id)
    assert set(results) == {read.id, agent.id, bash.id}
    assert events.index(bash) < events.index(results[bash.id]) < events.index(results[agent.id])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look.All done."  # not the subagent's
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "stop" and finish.claude_session


async def test_a_run_that_reaches_max_turns_is_cut_short_and_the_process_goes_on(fake, cli_config_dir, tmp_path):
    fake.enqueue(Reply("Working.", tool_uses=[{"name": "Bash", "input": {"command": "echo hi"}}]), Reply("Next turn."))
    async with ClaudeSDKClient(options(fake, cli_config_dir, tmp_path, max_turns=1)) as client:
        first = await read_turn(client, "Do it.")
        second = await read_turn(client, "Go on.")
    assert [type(e) for e in first if not isinstance(e, TextDelta)] == [ToolUse, ToolResult, Finish]
    assert (first[-1].reason, first[-1].limit) == ("length", "max_turns")
    assert first[-1].message.content == [{"type": "text", "text": "Working."}]
    assert (second[-1].reason, second[-1].limit) == ("stop", None)
