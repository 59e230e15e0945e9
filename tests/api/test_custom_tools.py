"""OpenAI's client-run tool types with a shape of their own (issue 22): `custom` tools (Responses and
Chat Completions), and the Responses API's `local_shell`, `shell` and `apply_patch`. Each is offered
to Claude as a function; Claude's call comes back in the type's own shape, whole and streamed, and
the call and its output sent back reach Claude as the tool_use it wrote and its result. A grammar is
named as not applied (strict mode refuses it); a hosted shell and a name two tools share are 400s."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from starlette.testclient import TestClient

from app.core.events import Finish, ToolCallDelta, ToolCallStart
from tests.support import make_client, official_clients

RESPONSES = {"model": "sonnet", "input": "hi"}
CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
GRAMMAR = {"type": "grammar", "syntax": "lark", "definition": 'start: "add " NUMBER'}
PATCHER = {"type": "custom", "name": "patcher", "description": "Applies a patch", "format": GRAMMAR}
RAW = 'line "one"\n\ttab \\ slash é 😀'


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _call(name: str, arguments: dict, call_id: str = "call_1", size: int = 3) -> list:
    """Claude's call, its JSON arguments streamed in small pieces (escapes cut in two among them)."""
    text = json.dumps(arguments)
    return [ToolCallStart(0, call_id, name), *(ToolCallDelta(0, p) for p in _pieces(text, size)), Finish("tool_use")]


def _events(streamed) -> list[dict]:
    return [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]


async def test_a_responses_custom_tool_is_a_one_string_function_and_its_call_a_custom_tool_call():
    client, engine = make_client()
    engine.script = _call("patcher", {"input": RAW})
    body = {**RESPONSES, "tools": [PATCHER]}
    async with client:
        whole = await client.post("/v1/responses", json=body)
        streamed = await client.post("/v1/responses", json={**body, "stream": True})
    (spec,) = engine.turns[0].tools
    assert spec.name == "patcher" and json.loads(spec.schema)["required"] == ["input"]
    assert "Applies a patch" in spec.description and 'start: "add " NUMBER' in spec.description
    assert whole.headers["x-gateway-ignored-params"] == "tools[0].format"
    (call,) = whole.json()["output"]
    assert {k: call[k] for k in ("type", "call_id", "name", "input")} == {
        "type": "custom_tool_call",
        "call_id": "call_1",
        "name": "patcher",
        "input": RAW,
    }
    events = _events(streamed)
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert (added["item"]["type"], added["item"]["input"]) == ("custom_tool_call", "")
    deltas = [e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"]
    assert len(deltas) > 3 and "".join(deltas) == RAW  # streamed as Claude wrote it, not at the end
    (done,) = [e for e in events if e["type"] == "response.custom_tool_call_input.done"]
    assert done["input"] == RAW and done["item_id"] == added["item"]["id"] and done["item_id"].startswith("ctc_")
    item_done = next(e for e in events if e["type"] == "response.output_item.done")
    assert item_done["item"]["input"] == RAW
    assert events[-1]["response"]["output"][0]["input"] == RAW


async def test_a_custom_call_and_its_output_sent_back_reach_claude_as_its_tool_use_and_result():
    client, engine = make_client()
    sent_back = [
        {"role": "user", "content": "patch it"},
        {"type": "custom_tool_call", "call_id": "call_1", "name": "patcher", "input": RAW},
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "patched"},
    ]
    async with client:
        answer = await client.post("/v1/responses", json={**RESPONSES, "tools": [PATCHER], "input": sent_back})
    assert answer.status_code == 200, answer.text
    _, call, result = engine.turns[0].messages
    assert call.content == [{"type": "tool_use", "id": "call_1", "name": "patcher", "input": {"input": RAW}}]
    assert result.content[0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "patched"}


async def test_a_grammar_is_refused_in_strict_mode_and_a_text_format_is_not_ignored():
    client, engine = make_client()
    text_tool = {**PATCHER, "format": {"type": "text"}}
    async with client:
        strict = await client.post(
            "/v1/responses", json={**RESPONSES, "tools": [PATCHER]}, headers={"X-Gateway-Strict": "1"}
        )
        plain = await client.post(
            "/v1/responses", json={**RESPONSES, "tools": [text_tool]}, headers={"X-Gateway-Strict": "1"}
        )
        chat = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "tools": [
                    {"type": "custom", "custom": {"name": "p", "format": {"type": "grammar", "grammar": GRAMMAR}}}
                ],
            },
            headers={"X-Gateway-Strict": "1"},
        )
    assert strict.status_code == 400 and strict.json()["error"]["param"] == "tools[0].format", strict.text
    assert strict.json()["error"]["code"] == "unsupported_parameter"
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "tools[0].custom.format", chat.text
    assert plain.status_code == 200 and "x-gateway-ignored-params" not in plain.headers
    assert len(engine.turns) == 1


async def test_chat_custom_tools_come_back_as_custom_tool_calls_whole_and_streamed():
    client, engine = make_client()
    weather = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    custom = {"type": "custom", "custom": {"name": "patcher", "description": "Applies a patch"}}
    engine.script = _call("patcher", {"input": RAW})[:-1] + [
        ToolCallStart(1, "call_2", "weather"),
        ToolCallDelta(1, '{"city": "Rome"}'),
        Finish("tool_use"),
    ]
    body = {**CHAT, "tools": [weather, custom]}
    async with client:
        whole = await client.post("/v1/chat/completions", json=body)
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
        sent_back = [
            *CHAT["messages"],
            {"role": "assistant", "tool_calls": whole.json()["choices"][0]["message"]["tool_calls"]},
            {"role": "tool", "tool_call_id": "call_1", "content": "patched"},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
        ]
        engine.script = None
        follow_up = await client.post(
            "/v1/chat/completions", json={**CHAT, "tools": [weather, custom], "messages": sent_back}
        )
    assert [s.name for s in engine.turns[0].tools] == ["weather", "patcher"]
    message = whole.json()["choices"][0]["message"]
    assert message["tool_calls"][0] == {"id": "call_1", "type": "custom", "custom": {"name": "patcher", "input": RAW}}
    assert message["tool_calls"][1]["function"] == {"name": "weather", "arguments": '{"city": "Rome"}'}
    chunks = [c["choices"][0]["delta"] for c in _events(streamed) if c["choices"]]
    calls = [call for delta in chunks for call in delta.get("tool_calls", [])]
    assert calls[0] == {"index": 0, "id": "call_1", "type": "custom", "custom": {"name": "patcher", "input": ""}}
    pieces = [c["custom"]["input"] for c in calls if c["index"] == 0 and "id" not in c]
    assert len(pieces) > 3 and "".join(pieces) == RAW
    assert [c["function"] for c in calls if c["index"] == 1 and "id" in c] == [{"name": "weather", "arguments": ""}]
    assert follow_up.status_code == 200, follow_up.text
    uses = [b for m in engine.turns[-1].messages for b in m.content if b["type"] == "tool_use"]
    assert uses[0] == {"type": "tool_use", "id": "call_1", "name": "patcher", "input": {"input": RAW}}


async def test_local_shell_shell_and_apply_patch_are_offered_and_called_in_their_published_shapes():
    client, engine = make_client()
    tools = [{"type": "local_shell"}, {"type": "shell", "environment": {"type": "local"}}, {"type": "apply_patch"}]
    calls = {
        "local_shell": {"command": ["bash", "-lc", "ls"], "working_directory": "/tmp"},
        "shell": {"commands": ["ls -la", "git status"], "timeout_ms": 5000},
        "apply_patch": {"type": "create_file", "path": "hello.txt", "diff": "+Hello"},
    }
    script = []
    for index, (name, arguments) in enumerate(calls.items()):
        script += [ToolCallStart(index, f"call_{name}", name), ToolCallDelta(index, json.dumps(arguments))]
    engine.script = [*script, Finish("tool_use")]
    async with client:
        whole = await client.post("/v1/responses", json={**RESPONSES, "tools": tools})
        streamed = await client.post("/v1/responses", json={**RESPONSES, "tools": tools, "stream": True})
        oai, _ = official_clients(client)
        parsed = await oai.responses.create(model="sonnet", input="hi", tools=tools)
    offered = {s.name: json.loads(s.schema) for s in engine.turns[0].tools}
    assert list(offered) == ["local_shell", "shell", "apply_patch"]
    assert offered["local_shell"]["required"] == ["command"] and offered["shell"]["required"] == ["commands"]
    local, shell, patch = whole.json()["output"]
    assert local["type"] == "local_shell_call" and local["call_id"] == "call_local_shell"
    assert local["action"] == {
        "type": "exec",
        "command": ["bash", "-lc", "ls"],
        "env": {},
        "timeout_ms": None,
        "working_directory": "/tmp",
        "user": None,
    }
    assert (shell["type"], shell["action"]) == (
        "shell_call",
        {"commands": ["ls -la", "git status"], "timeout_ms": 5000, "max_output_length": None},
    )
    assert (patch["type"], patch["operation"], patch["status"]) == (
        "apply_patch_call",
        {"type": "create_file", "path": "hello.txt", "diff": "+Hello"},
        "completed",
    )
    done = [e["item"] for e in _events(streamed) if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in done] == ["local_shell_call", "shell_call", "apply_patch_call"]
    assert done[1]["action"]["commands"] == ["ls -la", "git status"]
    assert [type(i).__name__ for i in parsed.output] == [
        "LocalShellCall",
        "ResponseFunctionShellToolCall",
        "ResponseApplyPatchToolCall",
    ]
    assert parsed.output[2].operation.path == "hello.txt"


async def test_shell_and_patch_calls_sent_back_are_the_arguments_claude_wrote_and_outputs_its_results():
    client, engine = make_client()
    tools = [{"type": "local_shell"}, {"type": "shell"}, {"type": "apply_patch"}]
    action = {"type": "exec", "command": ["ls"], "env": {}, "timeout_ms": None, "user": None, "working_directory": None}
    sent_back = [
        {"role": "user", "content": "go"},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "c1", "status": "completed", "action": action},
        {
            "type": "shell_call",
            "call_id": "c2",
            "action": {"commands": ["pwd"], "timeout_ms": None, "max_output_length": None},
        },
        {
            "type": "apply_patch_call",
            "call_id": "c3",
            "status": "completed",
            "operation": {"type": "delete_file", "path": "x"},
        },
        {"type": "local_shell_call_output", "id": "c1", "output": "a.txt"},
        {
            "type": "shell_call_output",
            "call_id": "c2",
            "output": [{"stdout": "/home\n", "stderr": "warn", "outcome": {"type": "exit", "exit_code": 0}}],
        },
        {"type": "apply_patch_call_output", "call_id": "c3", "status": "failed", "output": "no such file"},
    ]
    async with client:
        answer = await client.post("/v1/responses", json={**RESPONSES, "tools": tools, "input": sent_back})
    assert answer.status_code == 200, answer.text
    _, calls, results = engine.turns[0].messages
    assert [(b["name"], b["input"]) for b in calls.content] == [
        ("local_shell", {"command": ["ls"]}),
        ("shell", {"commands": ["pwd"]}),
        ("apply_patch", {"type": "delete_file", "path": "x"}),
    ]
    local, shell, patch = results.content
    assert local["content"] == "a.txt" and local["tool_use_id"] == "c1"
    assert shell["content"] == "[command 1: exit code 0]\n/home\nstderr:\nwarn"
    assert (patch["content"], patch["is_error"]) == ("no such file", True)


async def test_a_forced_custom_or_shell_tool_is_the_function_claude_must_call():
    client, engine = make_client()
    async with client:
        await client.post(
            "/v1/responses",
            json={**RESPONSES, "tools": [PATCHER], "tool_choice": {"type": "custom", "name": "patcher"}},
        )
        await client.post(
            "/v1/responses", json={**RESPONSES, "tools": [{"type": "shell"}], "tool_choice": {"type": "shell"}}
        )
        await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "tools": [{"type": "custom", "custom": {"name": "p"}}],
                "tool_choice": {"type": "custom", "custom": {"name": "p"}},
            },
        )
    assert [t.forced_tool for t in engine.turns] == ["patcher", "shell", "p"]


@pytest.mark.parametrize(
    "path, body, tools, param",
    [
        ("/v1/responses", RESPONSES, [{"type": "function", "name": "shell"}, {"type": "shell"}], "tools[1].type"),
        ("/v1/responses", RESPONSES, [PATCHER, {**PATCHER, "format": None}], "tools[1].name"),
        (
            "/v1/chat/completions",
            CHAT,
            [{"type": "function", "function": {"name": "p"}}, {"type": "custom", "custom": {"name": "p"}}],
            "tools[1].custom.name",
        ),
    ],
)
async def test_a_name_two_tools_share_is_a_400(path, body, tools, param):
    client, engine = make_client()
    async with client:
        answer = await client.post(path, json={**body, "tools": tools})
    error = answer.json()["error"]
    assert answer.status_code == 400 and (error["code"], error["param"]) == ("duplicate_tool_name", param), answer.text
    assert engine.turns == []


async def test_a_shell_in_a_hosted_container_is_refused_naming_its_environment():
    client, engine = make_client()
    async with client:
        oai, _ = official_clients(client)
        with pytest.raises(openai.BadRequestError) as refused:
            await oai.responses.create(
                model="sonnet", input="hi", tools=[{"type": "shell", "environment": {"type": "container_auto"}}]
            )
    assert (refused.value.code, refused.value.param) == ("unsupported_tool_type", "tools[0].environment.type")
    assert "OpenAI-hosted container" in refused.value.message and engine.turns == []


def test_the_responses_websocket_streams_a_custom_call_as_over_http():
    client, engine = make_client()
    engine.script = _call("patcher", {"input": RAW})
    with (
        TestClient(client._transport.app, base_url="http://localhost") as http,
        http.websocket_connect("ws://localhost/v1/responses") as ws,
    ):
        ws.send_text(json.dumps({"type": "response.create", **RESPONSES, "tools": [PATCHER]}))
        events = []
        while not events or events[-1]["type"] != "response.completed":
            events.append(json.loads(ws.receive_text()))
    deltas = [e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == RAW and events[-1]["response"]["output"][0]["type"] == "custom_tool_call"


async def test_a_chat_batch_answers_with_custom_tool_calls():
    client, engine = make_client()
    engine.script = _call("patcher", {"input": RAW})
    body = {**CHAT, "tools": [{"type": "custom", "custom": {"name": "patcher"}}]}
    row = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": body}
    async with client:
        files = client._transport.app.state.gateway.files
        record = await files.add("anonymous", "in.jsonl", "batch", "application/jsonl", json.dumps(row).encode())
        create = {"input_file_id": record.id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        batch = (await client.post("/v1/batches", json=create)).json()
        for _ in range(200):
            batch = (await client.get(f"/v1/batches/{batch['id']}")).json()
            if batch["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        output = json.loads(await files.content("anonymous", batch["output_file_id"]))
    (call,) = output["response"]["body"]["choices"][0]["message"]["tool_calls"]
    assert call == {"id": "call_1", "type": "custom", "custom": {"name": "patcher", "input": RAW}}
