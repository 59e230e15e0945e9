"""Anthropic's tool search through the Messages door: the search tool types are served on
/v1/messages and /v1/messages/count_tokens, the tools the client defers reach the turn as deferred,
and `defer_loading` with no search tool is named as not applied (issue 22, "Client tools stay
visible"; the real CLI's side is tests/e2e/test_tool_search_e2e.py)."""

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
