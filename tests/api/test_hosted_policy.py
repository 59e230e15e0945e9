"""Hosted tools (web search, web fetch) and who may use them: a managed key's `hosted_tools`
policy, GATEWAY_HOSTED_TOOLS for keyless mode and GATEWAY_API_KEYS keys; and the requests the
doors refuse before any Claude process runs (a 4xx in each door's envelope)."""

from __future__ import annotations

import pytest

from tests.support import ask, make_client

ADMIN_KEY = "admin-secret-0123456789abcdef-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SEARCH_RESPONSES = {"model": "sonnet", "input": "news?", "tools": [{"type": "web_search"}]}
SEARCH_CHAT = {**ask("news?"), "web_search_options": {}}
SEARCH_MESSAGES = {
    "model": "sonnet",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "news?"}],
    "tools": [{"type": "web_search_20250305", "name": "web_search"}],
}
FETCH_MESSAGES = {**SEARCH_MESSAGES, "tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]}
BODIES = [
    ("/v1/responses", SEARCH_RESPONSES, "web_search"),
    ("/v1/chat/completions", SEARCH_CHAT, "web_search"),
    ("/v1/messages", SEARCH_MESSAGES, "web_search"),
    ("/v1/messages", FETCH_MESSAGES, "web_fetch"),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("path, body, tool", BODIES, ids=[f"{b[0]}-{b[2]}" for b in BODIES])
async def test_a_key_without_hosted_tools_gets_a_403_naming_the_tool(gateway, path, body, tool):
    client, engine, _ = await gateway(admin_key=ADMIN_KEY)
    made = await client.post("/admin/keys", json={"name": "plain"}, headers=ADMIN)
    allowed = await client.post("/admin/keys", json={"name": "searcher", "hosted_tools": [tool]}, headers=ADMIN)
    refused = await client.post(path, json=body, headers=bearer(made.json()["key"]))
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert repr(tool) in error["message"]
    if path == "/v1/messages":
        assert error["type"] == "permission_error"
    else:
        assert error["code"] == "hosted_tool_not_allowed"
    served = await client.post(path, json=body, headers=bearer(allowed.json()["key"]))
    assert served.status_code == 200, served.text


async def test_keyless_mode_follows_gateway_hosted_tools():
    client, engine = make_client(hosted_tools="web_fetch")
    async with client:
        refused = await client.post("/v1/responses", json=SEARCH_RESPONSES)
        fetched = await client.post("/v1/messages", json=FETCH_MESSAGES)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "hosted_tool_not_allowed"
    assert fetched.status_code == 200, fetched.text
    assert engine.turns[0].hosted.names == ("web_fetch",)


async def test_a_bad_hosted_tools_list_is_a_400_at_key_creation(gateway):
    client, _, _ = await gateway(admin_key=ADMIN_KEY)
    bad = await client.post("/admin/keys", json={"name": "k", "hosted_tools": ["file_search"]}, headers=ADMIN)
    assert bad.status_code == 400, bad.text


async def test_the_turn_carries_the_requests_limits_and_ignores_what_cannot_apply():
    client, engine = make_client()
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2, "allowed_domains": ["a.org"]}
    located = {**search, "user_location": {"type": "approximate", "city": "Oslo"}}
    async with client:
        answer = await client.post("/v1/messages", json={**SEARCH_MESSAGES, "tools": [located]})
        both = await client.post(
            "/v1/messages", json={**SEARCH_MESSAGES, "tools": [{**search, "blocked_domains": ["b.org"]}]}
        )
        hidden = await client.post("/v1/messages", json={**SEARCH_MESSAGES, "tool_choice": {"type": "none"}})
        chat = await client.post(
            "/v1/chat/completions", json={**ask("x"), "web_search_options": {"search_context_size": "high"}}
        )
    assert answer.status_code == 200, answer.text
    rules = engine.turns[0].hosted.web_search
    assert (rules.allowed_domains, rules.max_uses) == (("a.org",), 2)
    assert "tools[0].user_location" in answer.headers["x-gateway-ignored-params"]
    assert both.status_code == 400 and "allowed_domains or blocked_domains" in both.json()["error"]["message"]
    assert hidden.status_code == 200 and engine.turns[1].hosted.names == ()
    assert chat.headers["x-gateway-ignored-params"] == "web_search_options.search_context_size"
    assert engine.turns[2].hosted.names == ("web_search",) and engine.turns[2].tools == ()


async def test_a_web_search_call_sent_back_is_left_out_of_the_conversation():
    client, engine = make_client()
    earlier = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    async with client:
        answer = await client.post(
            "/v1/responses",
            json={
                **SEARCH_RESPONSES,
                "input": [{"role": "user", "content": "a"}, earlier, {"role": "user", "content": "b"}],
            },
        )
    assert answer.status_code == 200, answer.text
    assert "web_search_call" not in str(engine.turns[0].messages)
