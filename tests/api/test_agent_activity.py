"""Agent mode through the app: the tools Claude Code ran reach each door's client, in its JSON and in
its stream, in the door's own shape; the official `openai` and `anthropic` clients read them; a run
that reached its limit says so; and an answer sent back with its activity is taken, and reaches
Claude as the gateway remembered it. A scripted engine plays the turn."""

from __future__ import annotations

import json

from agents import Agent, ItemHelpers, OpenAIResponsesModel, Runner, set_tracing_disabled

from app.core.events import Finish, TextDelta, ToolResult, ToolUse, Usage
from app.core.messages import Message, answer_message
from tests.support import make_client, official_clients

ANSWER = answer_message("Let me look.\n\nTwo files.")
BASH = ToolUse("toolu_1", "Bash", {"command": "ls -la"})
SEARCH = ToolUse("toolu_2", "mcp__github__search_issues", {"q": "bug"}, server="github")
SCRIPT = [
    TextDelta("Let me look."),
    BASH,
    ToolResult("toolu_1", "Bash", "a.py\nb.py\n"),
    SEARCH,
    ToolResult("toolu_2", SEARCH.name, "rate limited", is_error=True, server="github"),
    TextDelta("Two files."),
    Finish("stop", Usage(3, 2), message=ANSWER),
]
LIMITED = [*SCRIPT[:-1], Finish("length", Usage(3, 2), message=ANSWER, limit="max_turns")]
ASK = [{"role": "user", "content": "What is here?"}]
AGAIN = {"role": "user", "content": "And now?"}
ASK_BLOCK = {"type": "text", "text": "What is here?"}
AGAIN_BLOCK = {"type": "text", "text": "And now?"}


def scripted(events):
    client, engine = make_client()
    engine.script = events
    return client, engine


def payloads(sse: str) -> list[dict]:
    return [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]


# --- Chat Completions -------------------------------------------------------------------------------
async def test_chat_json_and_stream_report_the_activity():
    client, _ = scripted(SCRIPT)
    async with client:
        whole = (await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": ASK})).json()
        streamed = await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": ASK, "stream": True})
    message = whole["choices"][0]["message"]
    assert message["content"] == "Let me look.\n\nTwo files."
    assert message["reasoning_content"] == (
        '▶ Bash: ls -la\n◀ 2 lines\n▶ github.search_issues {"q":"bug"}\n◀ error: rate limited\n'
    )
    assert [(e["type"], e.get("server")) for e in message["claude_code_events"]] == [
        ("tool_use", None),
        ("tool_result", None),
        ("tool_use", "github"),
        ("tool_result", "github"),
    ]
    deltas = [chunk["choices"][0]["delta"] for chunk in payloads(streamed.text) if chunk["choices"]]
    assert [d["claude_code_event"] for d in deltas if "claude_code_event" in d] == message["claude_code_events"]
    assert "".join(d.get("content", "") for d in deltas) == message["content"]


async def test_the_openai_client_reads_the_chat_stream_with_activity():
    client, _ = scripted(LIMITED)
    openai, _ = official_clients(client)
    events, reasoning, finish, limit = [], "", None, None
    async with client:
        async for chunk in await openai.chat.completions.create(model="sonnet", messages=ASK, stream=True):
            delta = chunk.choices[0].delta
            reasoning += getattr(delta, "reasoning_content", None) or ""
            events += [delta.claude_code_event] if getattr(delta, "claude_code_event", None) else []
            finish = chunk.choices[0].finish_reason or finish
            limit = getattr(chunk, "claude_code_limit", None) or limit
    assert [(e["type"], e.get("id") or e.get("tool_use_id")) for e in events] == [
        ("tool_use", "toolu_1"),
        ("tool_result", "toolu_1"),
        ("tool_use", "toolu_2"),
        ("tool_result", "toolu_2"),
    ]
    assert reasoning.startswith("▶ Bash: ls -la\n") and (finish, limit) == ("length", "max_turns")


async def test_a_chat_answer_sent_back_with_its_events_reaches_claude_as_remembered():
    client, engine = scripted(SCRIPT)
    async with client:
        first = (await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": ASK})).json()
        history = [*ASK, first["choices"][0]["message"], AGAIN]
        again = await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": history})
    assert again.status_code == 200, again.text
    assert engine.turns[-1].messages[1] == ANSWER


# --- Anthropic Messages ------------------------------------------------------------------------------
MESSAGES = {"model": "sonnet", "max_tokens": 100, "messages": ASK}
BLOCK_TYPES = ["text", "mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result", "text"]


async def test_anthropic_json_and_stream_hold_mcp_blocks_the_anthropic_client_reads():
    client, engine = scripted(SCRIPT)
    _, anthropic = official_clients(client)
    async with client:
        whole = (await client.post("/v1/messages", json=MESSAGES)).json()
        streamed = await client.post("/v1/messages", json={**MESSAGES, "stream": True})
        async with anthropic.messages.stream(**MESSAGES) as stream:
            final = await stream.get_final_message()
        # The client sends the answer back as it got it: taken, and the activity is left out.
        history = [*ASK, {"role": "assistant", "content": final.content}, AGAIN]
        again = await anthropic.messages.create(model="sonnet", max_tokens=100, messages=history)
    assert [block["type"] for block in whole["content"]] == BLOCK_TYPES
    assert whole["content"][3] == {
        "type": "mcp_tool_use",
        "id": "toolu_2",
        "name": "search_issues",
        "server_name": "github",
        "input": {"q": "bug"},
    }
    starts = [e for e in payloads(streamed.text) if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["type"]) for e in starts] == list(enumerate(BLOCK_TYPES))
    assert [block.type for block in final.content] == BLOCK_TYPES
    assert again.stop_reason == "end_turn"
    assert engine.turns[-1].messages == [Message("user", [ASK_BLOCK]), ANSWER, Message("user", [AGAIN_BLOCK])]


async def test_anthropic_names_the_limit_a_run_reached():
    client, _ = scripted(LIMITED)
    _, anthropic = official_clients(client)
    async with client:
        whole = (await client.post("/v1/messages", json=MESSAGES)).json()
        async with anthropic.messages.stream(**MESSAGES) as stream:
            final = await stream.get_final_message()
        streamed = await client.post("/v1/messages", json={**MESSAGES, "stream": True})
    assert (whole["stop_reason"], whole["claude_code_limit"]) == ("pause_turn", "max_turns")
    assert final.stop_reason == "pause_turn"
    (ending,) = [e["delta"] for e in payloads(streamed.text) if e["type"] == "message_delta"]
    assert ending["claude_code_limit"] == "max_turns"


# --- Responses ---------------------------------------------------------------------------------------
OUTPUT_TYPES = ["message", "mcp_call", "mcp_call", "message"]


async def test_responses_json_and_stream_hold_tool_items_the_openai_client_reads():
    client, engine = scripted(SCRIPT)
    openai, _ = official_clients(client)
    async with client:
        whole = (await client.post("/v1/responses", json={"model": "sonnet", "input": ASK})).json()
        async with openai.responses.stream(model="sonnet", input=ASK) as stream:
            added = [e.item.status async for e in stream if e.type == "response.output_item.added"]
            final = await stream.get_final_response()
        # Sent back as input items, as a stateless client does: taken, the activity left out.
        history = [*ASK, *whole["output"], AGAIN]
        again = await client.post("/v1/responses", json={"model": "sonnet", "input": history})
    assert [item["type"] for item in whole["output"]] == OUTPUT_TYPES
    assert whole["output"][1] == {
        "type": "mcp_call",
        "id": "toolu_1",
        "server_label": "claude_code",
        "name": "Bash",
        "arguments": '{"command": "ls -la"}',
        "output": "a.py\nb.py\n",
        "error": None,
        "status": "completed",
    }
    assert [item.type for item in final.output] == OUTPUT_TYPES and added == ["in_progress"] * 4
    assert (final.output[2].status, final.output[2].error.content) == (
        "failed",
        [{"type": "text", "text": "rate limited"}],
    )
    assert again.status_code == 200, again.text
    assert engine.turns[-1].messages == [Message("user", [ASK_BLOCK]), ANSWER, Message("user", [AGAIN_BLOCK])]


async def test_responses_names_the_limit_a_run_reached():
    client, _ = scripted(LIMITED)
    openai, _ = official_clients(client)
    async with client:
        whole = (await client.post("/v1/responses", json={"model": "sonnet", "input": ASK})).json()
        events = [event async for event in await openai.responses.create(model="sonnet", input=ASK, stream=True)]
    assert (whole["status"], whole["incomplete_details"]) == ("incomplete", {"reason": "max_turns"})
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_turns"


async def test_an_openai_agents_sdk_run_reads_the_activity_and_sends_it_back():
    client, engine = scripted(SCRIPT)
    openai, _ = official_clients(client)
    set_tracing_disabled(True)  # tracing would post every run to OpenAI's servers
    agent = Agent(name="coder", model=OpenAIResponsesModel(model="sonnet", openai_client=openai))
    async with client:
        run = await Runner.run(agent, "What is here?")
        again = await Runner.run(agent, [*run.to_input_list(), AGAIN])
    assert run.final_output == "Two files." and again.final_output == "Two files."
    assert [type(item).__name__ for item in run.new_items] == [
        "MessageOutputItem",
        "ToolCallItem",
        "ToolCallItem",
        "MessageOutputItem",
    ]
    assert (
        ItemHelpers.text_message_outputs(run.new_items) == "Let me look.Two files."
    )  # separate items, as OpenAI joins them
    assert engine.turns[-1].messages[1] == ANSWER
