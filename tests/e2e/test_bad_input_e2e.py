"""The client's mistakes that only Claude Code or Claude can see, end to end: a clear 4xx in each
door's own envelope, never a 5xx. Real bundled CLI, fake Anthropic API, gateway as a real server."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply

pytestmark = pytest.mark.e2e


def door(path: str, text: str) -> dict:
    if path == "/v1/messages":
        return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    if path == "/v1/responses":
        return {"model": "sonnet", "input": text}
    return {"model": "sonnet", "messages": [{"role": "user", "content": text}]}


def post(gateway, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)


def error_of(response: httpx.Response, path: str) -> tuple[str, str]:
    """(code or type, message) from either envelope, checking that it is the door's own."""
    body = response.json()
    if path == "/v1/messages":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        return body["error"]["type"], body["error"]["message"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]["code"], body["error"]["message"]


DOORS = ["/v1/chat/completions", "/v1/messages", "/v1/responses"]


# --- a prompt too long for the model ----------------------------------------------------------------
@pytest.mark.parametrize("path", DOORS)
def test_a_prompt_claude_code_finds_too_long_is_400_context_length_exceeded(gateway, fake, path):
    response = post(gateway, path, door(path, "word " * (1024 * 1024)))  # 5 MB: under the body limit
    assert response.status_code == 400, response.text
    code, message = error_of(response, path)
    assert code == ("invalid_request_error" if path == "/v1/messages" else "context_length_exceeded")
    assert "Prompt is too long" in message
    assert fake.requests == []  # Claude Code refused it before any call


@pytest.mark.parametrize("path", DOORS)
def test_a_prompt_anthropic_finds_too_long_is_400_context_length_exceeded(gateway, fake, path):
    fake.context_tokens = 500
    response = post(gateway, path, door(path, "word " * 2000))
    assert response.status_code == 400, response.text
    code, message = error_of(response, path)
    assert code == ("invalid_request_error" if path == "/v1/messages" else "context_length_exceeded")
    assert "too long" in message
    assert fake.requests  # this time Anthropic said so


# --- a tool result with no call before it -------------------------------------------------------
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def test_in_a_named_session_a_result_must_answer_the_call_in_its_history(client, fake):
    fake.enqueue(
        Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Kyiv"}}]),
        Reply(text="Snowing in Kyiv."),
    )
    session = {"extra_body": {"session_id": "orphan-check"}}
    first = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Weather in Kyiv?"}], tools=[WEATHER], **session
    )
    call = first.choices[0].message.tool_calls[0]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="sonnet",
            tools=[WEATHER],
            **session,
            messages=[{"role": "tool", "tool_call_id": "call_nobody_made", "content": "x"}],
        )
    assert caught.value.body["code"] == "orphan_tool_result" and "call_nobody_made" in caught.value.body["message"]
    second = client.chat.completions.create(  # the call is in the session's history: accepted
        model="sonnet",
        tools=[WEATHER],
        **session,
        messages=[{"role": "tool", "tool_call_id": call.id, "content": "snow"}],
    )
    assert second.choices[0].message.content == "Snowing in Kyiv."


def test_with_previous_response_id_a_result_must_answer_the_call_in_that_response(client, fake):
    fake.enqueue(
        Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Oslo"}}]), Reply(text="Sunny in Oslo.")
    )
    tool = {"type": "function", **WEATHER["function"]}
    first = client.responses.create(model="sonnet", input="Weather in Oslo?", tools=[tool])
    (call,) = [item for item in first.output if item.type == "function_call"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="sonnet",
            previous_response_id=first.id,
            tools=[tool],
            input=[{"type": "function_call_output", "call_id": "call_nobody_made", "output": "x"}],
        )
    assert caught.value.body["code"] == "orphan_tool_result"
    second = client.responses.create(
        model="sonnet",
        previous_response_id=first.id,
        tools=[tool],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Sunny in Oslo."


# --- huge output limits ---------------------------------------------------------------------------
def test_a_huge_max_tokens_is_clamped_to_what_claude_code_asks_for_and_named(gateway, fake):
    body = {**door("/v1/messages", "hi"), "max_tokens": 2**70, "thinking": {"type": "enabled", "budget_tokens": 2**70}}
    response = post(gateway, "/v1/messages", body)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-ignored-params"] == "max_tokens"
    assert fake.requests[-1]["max_tokens"] == 128_000


def test_a_schema_as_deep_as_the_gateway_accepts_reaches_claude(gateway, fake):
    # 95 levels of properties: about 195 levels of JSON in the body, just under the 200 accepted.
    schema: dict = {"type": "string"}
    for _ in range(95):
        schema = {"type": "object", "properties": {"a": schema}}
    tool = {"type": "function", "function": {"name": "deep", "parameters": schema}}
    response = post(gateway, "/v1/chat/completions", {**door("/v1/chat/completions", "hi"), "tools": [tool]})
    assert response.status_code == 200, response.text
    assert "mcp__client__deep" in [t["name"] for t in fake.requests[-1]["tools"]]
