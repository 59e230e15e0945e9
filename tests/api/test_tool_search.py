"""Tool search, as each API asks for it: Anthropic's search tool types on /v1/messages and
/v1/messages/count_tokens, OpenAI's `tool_search` on /v1/responses. The tools the client defers
reach the turn as deferred, `defer_loading` with no search tool is named as not applied, and a
search the client would run itself is refused (issue 22, "Client tools stay visible"; the real
CLI's side is tests/e2e/test_tool_search_e2e.py)."""

from __future__ import annotations

import pytest

from tests.support import make_client, official_clients

SCHEMA = {"type": "object", "properties": {}}
WEATHER = {"name": "weather", "input_schema": SCHEMA}
STOCKS = {"name": "stocks", "input_schema": SCHEMA, "defer_loading": True}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("kind", ["tool_search_tool_regex_20251119", "tool_search_tool_bm25_20251119"])
async def test_a_search_tool_defers_the_tools_the_client_defers(kind):
    client, engine = make_client()
    search = {"type": kind, "name": kind.rsplit("_", 1)[0]}
    async with client:
        _, claude = official_clients(client)
        raw = await claude.messages.with_raw_response.create(
            model="sonnet", max_tokens=10, messages=MESSAGES, tools=[WEATHER, search, STOCKS]
        )
        counted = await claude.messages.count_tokens(model="sonnet", messages=MESSAGES, tools=[search, STOCKS])
    assert raw.headers.get("x-gateway-ignored-params") is None
    assert [(spec.name, spec.deferred) for spec in engine.turns[0].tools] == [("weather", False), ("stocks", True)]
    assert counted.input_tokens > 0


async def test_defer_loading_without_a_search_tool_is_offered_and_named():
    client, engine = make_client()
    async with client:
        _, claude = official_clients(client)
        raw = await claude.messages.with_raw_response.create(
            model="sonnet", max_tokens=10, messages=MESSAGES, tools=[WEATHER, STOCKS]
        )
    assert raw.headers["x-gateway-ignored-params"] == "tools[1].defer_loading"
    assert [(spec.name, spec.deferred) for spec in engine.turns[0].tools] == [("weather", False), ("stocks", False)]


async def test_a_search_tool_of_an_unknown_version_is_refused_naming_it():
    client, engine = make_client()
    async with client:
        answer = await client.post(
            "/v1/messages",
            json={"model": "sonnet", "max_tokens": 10, "messages": MESSAGES, "tools": [{"type": "tool_search_tool_x"}]},
        )
    assert answer.status_code == 400 and "tool_search_tool_x" in answer.json()["error"]["message"]
    assert engine.turns == []


def _function(name: str, **extra) -> dict:
    return {"type": "function", "name": name, "parameters": SCHEMA, **extra}


RESPONSES_TOOLS = [
    _function("weather"),
    _function("stocks", defer_loading=True),
    {"type": "namespace", "name": "crm", "description": "CRM", "tools": [_function("find")], "defer_loading": True},
    {"type": "namespace", "name": "wiki", "description": "Wiki", "tools": [_function("read", defer_loading=True)]},
]


async def test_responses_tool_search_defers_functions_and_namespaces_marked_so():
    client, engine = make_client()
    async with client:
        oai, _ = official_clients(client)
        raw = await oai.responses.with_raw_response.create(
            model="sonnet", input="hi", tools=[*RESPONSES_TOOLS, {"type": "tool_search"}]
        )
        plain = await oai.responses.with_raw_response.create(model="sonnet", input="hi", tools=RESPONSES_TOOLS)
    assert raw.headers.get("x-gateway-ignored-params") is None
    deferred = [(spec.name, spec.deferred) for spec in engine.turns[0].tools]
    assert deferred == [("weather", False), ("stocks", True), ("crm__find", True), ("wiki__read", True)]
    # Without a tool_search tool nothing could load them: offered, and named.
    assert plain.headers["x-gateway-ignored-params"] == (
        "tools[1].defer_loading,tools[2].defer_loading,tools[3].tools[0].defer_loading"
    )
    assert not any(spec.deferred for spec in engine.turns[1].tools)


async def test_a_tool_search_the_client_runs_is_refused_naming_it():
    client, engine = make_client()
    async with client:
        tools = [_function("f"), {"type": "tool_search", "execution": "client"}]
        answer = await client.post("/v1/responses", json={"model": "sonnet", "input": "hi", "tools": tools})
    error = answer.json()["error"]
    assert answer.status_code == 400
    assert (error["code"], error["param"]) == ("unsupported_tool_type", "tools[1].execution")
    assert "runs the search itself" in error["message"] and engine.turns == []


async def test_a_history_with_the_real_apis_search_blocks_is_read_without_them():
    """A conversation held with Anthropic's or OpenAI's own tool search, sent back: the search's
    blocks and items are left out, the call it led to and its result reach Claude."""
    client, engine = make_client()
    anthropic_history = [
        {"role": "user", "content": "price?"},
        {
            "role": "assistant",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "tool_search_tool_regex", "input": {}},
                {
                    "type": "tool_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": {"type": "tool_search_tool_search_result", "tool_references": []},
                },
                {"type": "tool_use", "id": "toolu_1", "name": "stocks", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
    ]
    responses_input = [
        {"role": "user", "content": "price?"},
        {"type": "tool_search_call", "call_id": "ts_1", "execution": "server", "arguments": {}, "status": "completed"},
        {"type": "tool_search_output", "call_id": "ts_1", "execution": "server", "status": "completed", "tools": []},
        {"type": "function_call", "call_id": "call_1", "name": "stocks", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    search = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    async with client:
        answer = await client.post(
            "/v1/messages",
            json={"model": "sonnet", "max_tokens": 10, "messages": anthropic_history, "tools": [search, STOCKS]},
        )
        tools = [_function("stocks", defer_loading=True), {"type": "tool_search"}]
        body = {"model": "sonnet", "input": responses_input, "tools": tools}
        response = await client.post("/v1/responses", json=body)
    assert answer.status_code == 200, answer.text
    assert response.status_code == 200, response.text
    for turn in engine.turns:
        kinds = [[block["type"] for block in message.content] for message in turn.messages]
        assert kinds == [["text"], ["tool_use"], ["tool_result"]], kinds
