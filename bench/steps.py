"""Step latency of an agent loop: from sending a function's result to the first delta of the next
function call, through the gateway (a held turn, openai client, HTTP) and on a direct
ClaudeSDKClient holding the same kind of turn with the same in-process MCP server (the floor).

The fake upstream (standalone, `step_loop_or_echo`) answers every request that offers a function
named `step` with another call of it, so a loop runs as long as its client keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time

from openai import OpenAI

from app.core.messages import ToolSpec
from app.engine.processes.tools import SERVER, ToolBridge, ToolResult

STEP = {
    "type": "function",
    "function": {"name": "step", "description": "One step", "parameters": {"type": "object", "properties": {}}},
}
PAUSE = 0.3  # between steps: a client doing its own work; lets the CLI settle, as between requests


def gateway_steps(client: OpenAI, steps: int) -> list[float]:
    """Seconds from sending each step's result to the first delta of the next call."""
    messages: list[dict] = [{"role": "system", "content": "bench"}, {"role": "user", "content": "loop"}]
    times: list[float] = []
    for step in range(steps + 1):
        start = time.perf_counter()
        first, calls = None, {}
        for chunk in client.chat.completions.create(model="sonnet", messages=messages, tools=[STEP], stream=True):
            for fragment in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                first = first or time.perf_counter() - start
                call = calls.setdefault(
                    fragment.index,
                    {"id": fragment.id, "type": "function", "function": {"name": "step", "arguments": ""}},
                )
                call["function"]["arguments"] += fragment.function.arguments or ""
        if step:  # the first request starts the conversation: not a step
            times.append(first or float("nan"))
        messages.append({"role": "assistant", "content": None, "tool_calls": list(calls.values())})
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": f"done {step}"} for c in calls.values()]
        time.sleep(PAUSE)
    return times


async def direct_steps(env: dict[str, str], steps: int) -> list[float]:
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, StreamEvent

    bridge = ToolBridge((ToolSpec("step", "One step", json.dumps({"type": "object", "properties": {}})),))
    options = ClaudeAgentOptions(
        tools=[],
        setting_sources=[],
        strict_mcp_config=True,
        system_prompt="bench",
        model="sonnet",
        include_partial_messages=True,
        cwd=tempfile.mkdtemp(),
        env=env,
        mcp_servers={SERVER: bridge.server},
        allowed_tools=bridge.allowed,
    )
    times: list[float] = []
    sent: list[float] = []

    async def answer_calls() -> None:
        for step in range(steps + 1):
            while not bridge.waiting():
                await asyncio.sleep(0.001)
            await asyncio.sleep(PAUSE)
            sent.append(time.perf_counter())
            for call_id in bridge.waiting():
                bridge.deliver(call_id, ToolResult(f"done {step}"))

    async with ClaudeSDKClient(options) as client:
        feeder = asyncio.create_task(answer_calls())
        await client.query("loop")
        async for message in client.receive_messages():
            event = message.event if isinstance(message, StreamEvent) else {}
            started = event.get("type") == "content_block_start" and event["content_block"].get("type") == "tool_use"
            if started and sent and len(times) < len(sent):
                times.append(time.perf_counter() - sent[-1])
            if len(times) >= steps:
                break
        feeder.cancel()
        await client.interrupt()
    return times
