"""Client functions stay in view, end to end (issue 22): the real CLI offers Claude every function
the client sent, on each door, from the first step, with nothing deferred and no tool of Claude
Code's own beside them; a client that asks for deferral (`defer_loading` with Anthropic's tool
search tool, or OpenAI's `tool_search`) gets it, served by Claude Code's ToolSearch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply, tool_results

pytestmark = pytest.mark.e2e

NAMES = [f"tool_{n:02d}" for n in range(30)]
SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}}
CLAUDE_NAMES = [f"mcp__client__{name}" for name in NAMES]


def offered(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The tools Claude was offered: (name, deferred)."""
    return [(tool["name"], bool(tool.get("defer_loading"))) for tool in body.get("tools", [])]


def ask(gateway, door: str) -> httpx.Response:
    """One request with the 30 functions through `door`, as its API shapes them."""
    if door == "chat":
        tools: list[dict[str, Any]] = [
            {"type": "function", "function": {"name": name, "parameters": SCHEMA}} for name in NAMES
        ]
        body: dict[str, Any] = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
        path = "/v1/chat/completions"
    elif door == "responses":
        tools = [{"type": "function", "name": name, "parameters": SCHEMA} for name in NAMES]
        body = {"model": "sonnet", "input": "hi", "tools": tools}
        path = "/v1/responses"
    else:
        tools = [{"name": name, "input_schema": SCHEMA} for name in NAMES]
        body = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], "tools": tools}
        path = "/v1/messages"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("door", ["chat", "responses", "messages"])
def test_every_client_function_is_in_view_from_the_first_step(gateway, fake, door):
    fake.enqueue(Reply(text="ok"))
    response = ask(gateway, door)
    assert response.status_code == 200, response.text
    (body,) = fake.requests
    # As the client sent them, in Claude Code's order: no DeferredToolPlaceholder, no ToolSearch.
    assert sorted(offered(body)) == [(name, False) for name in CLAUDE_NAMES]
    assert "x-gateway-ignored-params" not in response.headers


# --- deferral asked for: Anthropic's tool search tool, OpenAI's tool_search -------------------------

WEATHER = {"name": "get_weather", "description": "Current weather in a city", "input_schema": SCHEMA}
STOCKS = {"name": "get_stock", "description": "A share's price", "input_schema": SCHEMA, "defer_loading": True}
FLIGHTS = {"name": "find_flight", "description": "Flights to a city", "input_schema": SCHEMA, "defer_loading": True}
SEARCH = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}


def search_then_call(function: str, arguments: dict[str, Any]) -> Callable[[dict[str, Any]], Reply]:
    """Claude loads `function` with Claude Code's ToolSearch, calls it, then answers with its result.
    (A conversation rebuilt from the client's history holds the call but not the search.)"""

    def reply(body: dict[str, Any]) -> Reply:
        names = [
            block["name"]
            for message in body["messages"]
            if message["role"] == "assistant" and isinstance(message["content"], list)
            for block in message["content"]
            if block.get("type") == "tool_use"
        ]
        if f"mcp__client__{function}" in names:
            return Reply(text="result: " + tool_results(body)[-1])
        if "ToolSearch" in names:
            return Reply(tool_uses=[{"name": f"mcp__client__{function}", "input": arguments}])
        return Reply(tool_uses=[{"name": "ToolSearch", "input": {"query": f"select:mcp__client__{function}"}}])

    return reply


@pytest.fixture
def claude(gateway, fake) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)


@pytest.fixture(params=["warm", "cold"])
def either(request, fake) -> anthropic.Anthropic:
    """The held turn goes on (warm), or each request starts a process on the history (cold)."""
    server = request.getfixturevalue("gateway" if request.param == "warm" else "cold_gateway")
    return anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_deferred_tools_wait_for_claude_codes_tool_search(either, fake, stream):
    claude = either
    fake.default = search_then_call("get_stock", {"x": "ACME"})
    tools: list[Any] = [WEATHER, STOCKS, SEARCH, FLIGHTS]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What does ACME cost?"}]
    if stream:
        with claude.messages.stream(model="sonnet", max_tokens=500, tools=tools, messages=messages) as streaming:
            first = streaming.get_final_message()
    else:
        raw = claude.messages.with_raw_response.create(model="sonnet", max_tokens=500, tools=tools, messages=messages)
        assert raw.headers.get("x-gateway-ignored-params") is None
        first = raw.parse()

    # Step 1: Claude saw get_weather and ToolSearch; the deferred ones by name only.
    start = fake.requests[0]
    assert ("mcp__client__get_weather", False) in offered(start) and ("ToolSearch", False) in offered(start)
    assert not {"mcp__client__get_stock", "mcp__client__find_flight"} & {name for name, _ in offered(start)}
    assert "mcp__client__find_flight" in str(start["system"]) + str(start["messages"])
    # Step 2: the search loaded get_stock (a tool_reference, as Anthropic's search tool answers).
    loaded = fake.requests[1]
    assert ("mcp__client__get_stock", True) in offered(loaded)
    assert '"tool_reference"' in str(loaded["messages"]).replace("'", '"')
    # The client gets the call by its own name; the search itself ran inside Claude Code.
    assert first.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "name", None)) for b in first.content] == [("tool_use", "get_stock")]
    (use,) = first.content
    assert use.input == {"x": "ACME"}

    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42 USD"}]},
    ]
    second = claude.messages.create(model="sonnet", max_tokens=500, tools=tools, messages=messages)
    assert second.content[0].text == "result: 42 USD" and second.stop_reason == "end_turn"


def test_defer_loading_without_a_search_tool_is_named_as_not_applied(claude, fake):
    """With no tool search tool, Claude could never load a deferred tool: it is offered like the
    others, and the header names the parameter."""
    fake.enqueue(Reply(text="ok"))
    raw = claude.messages.with_raw_response.create(
        model="sonnet", max_tokens=100, tools=[WEATHER, STOCKS], messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().content[0].text == "ok"
    assert raw.headers["x-gateway-ignored-params"] == "tools[1].defer_loading"
    visible = [("mcp__client__get_stock", False), ("mcp__client__get_weather", False)]
    assert sorted(offered(fake.requests[-1])) == visible


def test_a_deferred_namespace_waits_for_claude_codes_tool_search_on_responses(gateway, fake):
    """OpenAI's tool_search with a namespace marked defer_loading: its functions are out of view
    until Claude searches; the call comes back with the function's own name and its namespace."""

    fake.default = search_then_call("crm__find", {"x": "Ann"})
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    crm = {"type": "function", "name": "find", "description": "Find a customer", "parameters": SCHEMA}
    tools: list[Any] = [
        {"type": "function", "name": "get_weather", "parameters": SCHEMA},
        {"type": "namespace", "name": "crm", "description": "The CRM", "tools": [crm], "defer_loading": True},
        {"type": "tool_search"},
    ]
    raw = client.responses.with_raw_response.create(model="sonnet", input="Find Ann.", tools=tools)
    first = raw.parse()
    assert raw.headers.get("x-gateway-ignored-params") is None
    assert ("mcp__client__crm__find", False) not in offered(fake.requests[0])
    assert ("mcp__client__crm__find", True) in offered(fake.requests[1])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert (call.name, getattr(call, "namespace", None), call.arguments) == ("find", "crm", '{"x": "Ann"}')

    second = client.responses.create(
        model="sonnet",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Ann, customer 7"}],
        tools=tools,
    )
    assert second.output_text == "result: Ann, customer 7"
