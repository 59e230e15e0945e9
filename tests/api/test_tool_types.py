"""Anthropic-defined client tools are offered to Claude with their published schemas; tool types the
gateway does not serve (yet) are refused with a 400 that names the type, where it
is and why (`unsupported_tool_type`), in the door's own envelope, before any turn starts: never
pydantic's "Input should be 'function'" or a missing `input_schema` (issue 22, its first part)."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from app.core.events import Finish, ToolCallDelta, ToolCallStart
from tests.support import make_client, official_clients

FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
CHAT_FUNCTION = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
CUSTOM = {"name": "f", "input_schema": {"type": "object", "properties": {}}}
CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "sonnet", "input": "hi"}

CASES = [
    ("/v1/responses", RESPONSES, FUNCTION, {"type": "web_search_2099"}, "not one this gateway serves yet"),
    ("/v1/responses", RESPONSES, FUNCTION, {"type": "file_search", "vector_store_ids": ["vs_1"]}, "vector stores"),
    ("/v1/responses", RESPONSES, FUNCTION, {"type": "code_interpreter", "container": {}}, "agent mode"),
    ("/v1/responses", RESPONSES, FUNCTION, {"type": "image_generation"}, "does not generate images"),
    ("/v1/responses", RESPONSES, FUNCTION, {"type": "computer_use_preview"}, "computer-use model"),
    ("/v1/chat/completions", CHAT, CHAT_FUNCTION, {"type": "namespace", "name": "ns", "tools": [FUNCTION]}, "yet"),
    ("/v1/chat/completions", CHAT, CHAT_FUNCTION, {"type": "local_shell"}, "yet"),
    ("/v1/chat/completions", CHAT, CHAT_FUNCTION, {"type": "apply_patch"}, "yet"),
    ("/v1/messages", MESSAGES, CUSTOM, {"type": "web_search_20250101", "name": "web_search"}, "yet"),
    ("/v1/messages", MESSAGES, CUSTOM, {"type": "web_fetch_20250909", "name": "web_fetch"}, "yet"),
    ("/v1/messages", MESSAGES, CUSTOM, {"type": "mcp_toolset", "mcp_server_name": "x"}, "yet"),
    ("/v1/messages", MESSAGES, CUSTOM, {"type": "bash_20990101", "name": "bash"}, "yet"),
    ("/v1/messages", MESSAGES, CUSTOM, {"type": "code_execution_20250825", "name": "code_execution"}, "agent mode"),
    ("/v1/messages/count_tokens", MESSAGES, CUSTOM, {"type": "web_search_20250101", "name": "web_search"}, "yet"),
]


@pytest.mark.parametrize("path, body, served, tool, why", CASES, ids=[f"{c[0]}-{c[3]['type']}" for c in CASES])
async def test_an_unserved_tool_type_is_a_400_naming_it_in_the_doors_envelope(path, body, served, tool, why):
    client, engine = make_client()
    async with client:
        answer = await client.post(path, json={**body, "tools": [served, tool]})
    assert answer.status_code == 400, answer.text
    if path.startswith("/v1/messages"):
        assert answer.json()["type"] == "error", answer.text
        error = answer.json()["error"]
        assert error["type"] == "invalid_request_error"
    else:
        error = answer.json()["error"]
        assert (error["code"], error["param"]) == ("unsupported_tool_type", "tools[1].type")
    assert f"'{tool['type']}' at tools[1].type" in error["message"] and why in error["message"], error
    assert engine.turns == []


async def test_served_types_still_pass_and_a_type_that_is_no_string_keeps_its_own_error():
    client, engine = make_client()
    async with client:
        custom = await client.post("/v1/messages", json={**MESSAGES, "tools": [{**CUSTOM, "type": "custom"}]})
        odd = await client.post("/v1/responses", json={**RESPONSES, "tools": [{**FUNCTION, "type": 5}]})
    assert custom.status_code == 200, custom.text
    assert odd.status_code == 400 and odd.json()["error"]["code"] != "unsupported_tool_type", odd.text


async def test_the_official_clients_see_the_refusal_with_its_code():
    client, _ = make_client()
    async with client:
        oai, claude = official_clients(client)
        with pytest.raises(openai.BadRequestError) as refused:
            await oai.responses.create(model="sonnet", input="hi", tools=[{"type": "image_generation"}])
        assert refused.value.code == "unsupported_tool_type"
        assert refused.value.param == "tools[0].type"
        with pytest.raises(anthropic.BadRequestError) as refused_too:
            await claude.messages.create(
                model="sonnet",
                max_tokens=10,
                messages=[{"role": "user", "content": "hi"}],
                tools=[{"type": "web_search_20250101", "name": "web_search"}],
            )
        assert "Unsupported tool type 'web_search_20250101'" in str(refused_too.value)


async def test_anthropic_defined_tools_are_offered_with_their_schema_under_the_clients_name():
    client, engine = make_client()
    tools = [
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 1000},
        {"type": "memory_20250818", "name": "memory"},
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1024, "display_height_px": 768},
    ]
    async with client:
        answer = await client.post("/v1/messages", json={**MESSAGES, "tools": tools})
    assert answer.status_code == 200, answer.text
    offered = {spec.name: spec for spec in engine.turns[0].tools}
    assert list(offered) == ["bash", "str_replace_based_edit_tool", "memory", "computer"]
    assert set(json.loads(offered["bash"].schema)["properties"]) == {"command", "restart"}
    editor = json.loads(offered["str_replace_based_edit_tool"].schema)
    assert editor["properties"]["command"]["enum"] == ["view", "create", "str_replace", "insert"]
    assert "max_characters: 1000" in offered["str_replace_based_edit_tool"].description
    assert "display_width_px: 1024" in offered["computer"].description
    assert "screenshot" in json.loads(offered["computer"].schema)["properties"]["action"]["enum"]


def _function(name: str) -> dict:
    return {"type": "function", "name": name, "description": f"{name} it", "parameters": {"type": "object"}}


NAMESPACED = [
    _function("crm__lookup"),
    {"type": "namespace", "name": "crm", "description": "The CRM", "tools": [_function("lookup"), _function("create")]},
    {"type": "namespace", "name": "wiki", "description": "The wiki", "tools": [_function("lookup")]},
]


async def test_namespace_functions_get_names_of_their_own_and_calls_come_back_with_their_namespace():
    client, engine = make_client()
    engine.script = [ToolCallStart(0, "call_1", "crm__lookup_2"), ToolCallDelta(0, '{"id": 1}'), Finish("tool_use")]
    async with client:
        whole = await client.post("/v1/responses", json={**RESPONSES, "tools": NAMESPACED})
        streamed = await client.post("/v1/responses", json={**RESPONSES, "tools": NAMESPACED, "stream": True})
        engine.script = None
        sent_back = [
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "namespace": "crm", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "found"},
        ]
        follow_up = await client.post("/v1/responses", json={**RESPONSES, "tools": NAMESPACED, "input": sent_back})
    offered = [spec.name for spec in engine.turns[0].tools]
    assert offered == ["crm__lookup", "crm__lookup_2", "crm__create", "wiki__lookup"]  # the top-level one kept its name
    assert engine.turns[0].tools[1].description == "[crm: The CRM] lookup it"
    (call,) = [item for item in whole.json()["output"] if item["type"] == "function_call"]
    assert (call["name"], call["namespace"], call["arguments"]) == ("lookup", "crm", '{"id": 1}')
    added = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    items = [e["item"] for e in added if e["type"] == "response.output_item.added"]
    assert [(i["name"], i["namespace"]) for i in items if i["type"] == "function_call"] == [("lookup", "crm")]
    assert follow_up.status_code == 200, follow_up.text
    (use,) = [b for m in engine.turns[-1].messages for b in m.content if b["type"] == "tool_use"]
    assert use["name"] == "crm__lookup_2"


async def test_a_namespace_holding_a_tool_it_cannot_serve_is_refused_naming_the_inner_tool():
    client, _ = make_client()
    namespace = {"type": "namespace", "name": "ns", "tools": [_function("a"), {"type": "custom", "name": "patch"}]}
    async with client:
        answer = await client.post("/v1/responses", json={**RESPONSES, "tools": [namespace]})
    error = answer.json()["error"]
    assert answer.status_code == 400 and (error["code"], error["param"]) == (
        "unsupported_tool_type",
        "tools[0].tools[1].type",
    )
