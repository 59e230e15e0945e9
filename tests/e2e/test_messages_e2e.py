"""Anthropic Messages API end to end: the official anthropic client -> gateway -> real Claude Code."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply
from tests.support import conversation, texts

pytestmark = pytest.mark.e2e

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def claude(gateway, fake) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)


def test_create(claude, fake):
    fake.enqueue(
        Reply(
            text="Hello from Claude",
            thinking="Thinking first.",
            input_tokens=20,
            output_tokens=5,
            cache_read_input_tokens=30,
            cache_creation_input_tokens=4,
        )
    )
    message = claude.messages.create(
        model="sonnet",
        max_tokens=1024,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": "Hi"}],
        metadata={"user_id": "u-1"},
    )
    assert message.type == "message" and message.role == "assistant" and message.model == "sonnet"
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Thinking first." and message.content[1].text == "Hello from Claude"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 5)
    assert message.usage.cache_read_input_tokens == 30 and message.usage.cache_creation_input_tokens == 4
    assert "Be brief." in " ".join(b["text"] for b in fake.requests[-1]["system"])
    assert fake.requests[-1]["max_tokens"] == 1024


def test_messages_stream(claude, fake):
    fake.enqueue(Reply(text="one two three", chunk_size=3))
    with claude.messages.stream(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "count"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "one two three" and len(pieces) == 5
    assert final.content[0].text == "one two three" and final.stop_reason == "end_turn"


def test_raw_stream_events_are_anthropics(gateway, fake):
    fake.enqueue(Reply(text="hey"))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        json={"model": "sonnet", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    ) as response:
        names = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]


def test_stop_sequences(claude, fake):
    fake.enqueue(Reply(text="alpha beta gamma"))
    message = claude.messages.create(
        model="sonnet", max_tokens=100, stop_sequences=["gamma"], messages=[{"role": "user", "content": "go"}]
    )
    assert message.content[0].text == "alpha beta "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "gamma"


def test_tool_use_round_trip(claude, fake):
    fake.enqueue(
        Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Oslo"}}]), Reply(text="Sunny in Oslo.")
    )
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = claude.messages.create(model="sonnet", max_tokens=500, tools=[WEATHER], messages=messages)
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "Oslo"}
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    second = claude.messages.create(model="sonnet", max_tokens=500, tools=[WEATHER], messages=messages)
    assert second.content[0].text == "Sunny in Oslo." and second.stop_reason == "end_turn"
    assert '"sunny"' in str(fake.requests[-1]["messages"]).replace("'", '"')


def test_an_anthropic_defined_tool_is_offered_with_its_schema_and_called_by_its_name(claude, fake):
    """bash_20250124 carries no input_schema: Claude gets Anthropic's (defined_tools.py) under the
    client's name, and its call comes back as an ordinary tool_use of that name, streamed or not."""
    call = Reply(tool_uses=[{"name": "mcp__client__bash", "input": {"command": "ls -la"}}])
    fake.enqueue(call, call)
    messages = [{"role": "user", "content": "List the files."}]
    tools = [{"type": "bash_20250124", "name": "bash"}]
    first = claude.messages.create(model="sonnet", max_tokens=500, tools=tools, messages=messages)
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use" and use.name == "bash" and use.input == {"command": "ls -la"}
    (offered,) = [t for t in fake.requests[-1]["tools"] if t["name"] == "mcp__client__bash"]
    assert set(offered["input_schema"]["properties"]) == {"command", "restart"}
    with claude.messages.stream(model="sonnet", max_tokens=500, tools=tools, messages=messages) as stream:
        streamed = stream.get_final_message()
    assert [(b.name, b.input) for b in streamed.content if b.type == "tool_use"] == [("bash", {"command": "ls -la"})]


def test_history_and_stateless_continuation(claude, gateway, fake):
    messages = [{"role": "user", "content": "I am Ann."}]
    first = claude.messages.with_raw_response.create(model="sonnet", max_tokens=100, messages=messages)
    reply = first.parse()
    messages += [{"role": "assistant", "content": reply.content[0].text}, {"role": "user", "content": "Who am I?"}]
    second = claude.messages.with_raw_response.create(model="sonnet", max_tokens=100, messages=messages)
    assert second.headers["x-session-id"] == first.headers["x-session-id"]  # the same conversation
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "I am Ann."),
        ("assistant", "echo: I am Ann."),
        ("user", "Who am I?"),
    ]


def test_count_tokens_is_forwarded_upstream(claude, fake):
    result = claude.messages.with_raw_response.count_tokens(
        model="sonnet", messages=[{"role": "user", "content": "hi"}]
    )
    assert result.parse().input_tokens == 42  # the fake upstream's count
    assert result.headers["x-gateway-token-count"] == "upstream"
    assert fake.count_tokens_requests[-1]["model"].startswith("claude-")  # the alias resolved


def test_errors_use_anthropics_envelope(gateway, claude, fake):
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": caught.value.body["error"]["message"]},
    }
    fake.enqueue(Reply(status=429, error_type="rate_limit_error", error_message="Slow down"))
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": API_KEY},
        json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400  # max_tokens is required, as Anthropic requires it
    assert response.json()["error"] == {"type": "invalid_request_error", "message": response.json()["error"]["message"]}
    assert "max_tokens" in response.json()["error"]["message"]


def test_max_tokens_inside_a_tool_use_returns_what_was_complete(claude, fake):
    cut = {"name": "mcp__client__get_weather", "partial_json": '{"city": "Oslo", "unit": "cel'}
    fake.enqueue(Reply(tool_uses=[cut], stop_reason="max_tokens"))
    message = claude.messages.create(
        model="sonnet", max_tokens=20, tools=[WEATHER], messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )
    assert message.stop_reason == "max_tokens"
    (use,) = message.content
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Oslo"}
