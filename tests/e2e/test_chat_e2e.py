"""POST /v1/chat/completions end to end: openai client -> gateway -> real Claude Code -> fake API."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from tests.fakes.upstream import Reply
from tests.support import conversation, texts, wait_until

pytestmark = pytest.mark.e2e

# A 1x1 PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
    )
).decode()


def test_non_streaming_completion(client, fake):
    fake.enqueue(
        Reply(
            text="Hello from Claude",
            input_tokens=20,
            output_tokens=5,
            cache_read_input_tokens=30,
            cache_creation_input_tokens=4,
        )
    )
    response = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "Hi"}])
    assert response.object == "chat.completion"
    assert response.model == "sonnet"
    assert response.id.startswith("chatcmpl-")
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello from Claude"
    assert choice.finish_reason == "stop"
    # Usage comes from Claude's result, not an estimate: input + cache read + cache creation.
    assert response.usage.prompt_tokens == 20 + 30 + 4
    assert response.usage.completion_tokens == 5
    assert response.usage.total_tokens == 59
    assert response.usage.prompt_tokens_details.cached_tokens == 30
    assert texts(conversation(fake.requests[-1])) == [("user", "Hi")]
    assert response._request_id == response.id  # the X-Request-Id header


def test_streaming_is_token_by_token(client, fake):
    fake.enqueue(Reply(text="one two three four five", chunk_size=3))
    stream = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "count"}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    pieces = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "one two three four five"
    assert len(pieces) == 8  # the upstream's 3-character deltas, one chunk each
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert {c.model for c in chunks} == {"sonnet"}
    assert all(c.usage is None for c in chunks)


def test_stream_include_usage_adds_a_final_usage_chunk(client, fake):
    fake.enqueue(Reply(text="counted", input_tokens=9, output_tokens=3))
    chunks = list(
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].usage.completion_tokens == 3
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_raw_stream_ends_with_done(gateway, fake):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": "Bearer e2e-test-key"},
        json={"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_system_and_developer_messages_replace_claude_codes_prompt(client, fake):
    client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "developer", "content": "Answer in one line."},
            {"role": "user", "content": "Hello"},
        ],
    )
    system = " ".join(block["text"] for block in fake.requests[-1]["system"])
    assert "You are a pirate." in system and "Answer in one line." in system
    assert "Claude Code" not in system.replace("Claude Agent SDK", "")  # not Claude Code's own prompt
    assert fake.requests[-1]["tools"] == []  # chat mode: no Claude Code tools


def test_prior_turns_arrive_as_real_alternating_messages(client, fake):
    response = client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "My name is Ann."},
            {"role": "assistant", "content": "Hello Ann!"},
            {"role": "user", "content": "I live in Oslo."},
            {"role": "assistant", "content": "Nice city."},
            {"role": "user", "content": "What is my name?"},
        ],
    )
    assert response.choices[0].message.content == "echo: What is my name?"
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "My name is Ann."),
        ("assistant", "Hello Ann!"),
        ("user", "I live in Oslo."),
        ("assistant", "Nice city."),
        ("user", "What is my name?"),
    ]


def test_image_data_url_and_http_url_become_image_blocks(client, fake):
    client.chat.completions.create(
        model="sonnet",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    ((role, blocks),) = conversation(fake.requests[-1])
    images = [b for b in blocks if b["type"] == "image"]
    assert images[0]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert images[1]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}


def test_unsupported_part_type_is_a_400_naming_it(client, fake):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="sonnet",
            messages=[
                {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}
            ],
        )
    assert "input_audio" in caught.value.body["message"]
    assert caught.value.body["param"] == "messages[0].content[0]"
    assert fake.requests == []


def test_an_answer_over_a_megabyte_arrives_whole(client, fake):
    # The CLI writes each message on one stream-json line; the SDK reads 1 MB a line by default.
    text = "x" * 1_500_000
    fake.enqueue(Reply(text=text, chunk_size=100_000))
    response = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "long"}])
    assert response.choices[0].message.content == text


def test_thinking_is_returned_as_reasoning_content(client, fake):
    fake.enqueue(Reply(thinking="Let me think.", text="Forty-two."))
    response = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "?"}])
    message = response.choices[0].message
    assert message.content == "Forty-two."
    assert message.model_extra["reasoning_content"] == "Let me think."


def test_max_tokens_reaches_claude_and_length_is_reported(cold_gateway, fake):
    client = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key="e2e-test-key", max_retries=0)
    gateway = cold_gateway
    fake.enqueue(Reply(text="cut sho", stop_reason="max_tokens", output_tokens=123))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "long story"}], max_completion_tokens=123
    )
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "cut sho"
    assert response.usage.completion_tokens == 123
    assert fake.requests[0]["max_tokens"] == 123
    # Claude Code goes on by itself ("Output token limit hit. Resume directly"); the gateway
    # interrupts that at once. The CLI may already have sent the continuation call (a race the
    # CLI usually wins), but no third call follows and the process ends.
    assert wait_until(lambda: gateway.children() == [], timeout=6), gateway.children()
    assert len(fake.requests) <= 2
    if len(fake.requests) == 2:
        assert "Output token limit hit" in json.dumps(fake.requests[1]["messages"][-3:])


def test_configured_alias_serves_an_openai_model_name(client, fake):
    response = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert response.model == "gpt-4o"
    assert "sonnet" in fake.requests[-1]["model"]


def test_unknown_model_is_404_model_not_found(client, fake):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nonexistent", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "model_not_found"


def test_upstream_429_stays_429_with_retry_after(client, fake):
    fake.enqueue(
        Reply(status=429, error_type="rate_limit_error", error_message="Slow down", headers={"retry-after": "7"})
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"].isdigit()
    assert caught.value.body["code"] == "rate_limit_exceeded"


def test_upstream_429_in_a_stream_is_a_429_before_streaming(client, fake):
    fake.enqueue(Reply(status=429, error_type="rate_limit_error", error_message="Slow down"))
    with pytest.raises(openai.RateLimitError):
        list(client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True))


def test_upstream_500_is_a_502(client, fake):
    fake.enqueue(Reply(status=500, error_type="api_error", error_message="Internal server error"))
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_error"


def test_upstream_overloaded_is_a_503(client, fake):
    fake.enqueue(Reply(status=529, error_type="overloaded_error", error_message="Overloaded"))
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503


def test_subscription_extra_usage_refusal_is_a_clear_insufficient_quota(client, fake):
    text = "Third-party apps now draw from your extra usage, not your plan limits. Enable extra usage to continue."
    # Every call refused: the CLI retries a 400 once with an adjusted request.
    fake.default = lambda body: Reply(status=400, error_type="invalid_request_error", error_message=text)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["type"] == "insufficient_quota"
    assert "Third-party apps now draw from your extra usage" in caught.value.body["message"]
    assert "API key" in caught.value.body["message"]


def test_error_after_the_stream_began_is_an_error_frame_then_done(gateway, fake):
    # The upstream breaks off mid-answer with an `error` event; Claude Code calls again (without
    # streaming) and gets another answer. The text already streamed is void: the client must see
    # an error frame and [DONE], not the first answer's start glued to the second one.
    fake.enqueue(Reply(text="first answer", chunk_size=2, fail_after=2, error_type="overloaded_error"))
    fake.enqueue(Reply(text="second answer"))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": "Bearer e2e-test-key"},
        json={"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2].removeprefix("data: "))["error"]
    assert error["code"] == "upstream_stream_interrupted"
    assert "second answer" not in "".join(lines)


def test_broken_off_answer_is_replaced_in_a_whole_response(client, fake):
    fake.enqueue(Reply(text="first answer", chunk_size=2, fail_after=2, error_type="overloaded_error"))
    fake.enqueue(Reply(text="second answer"))
    response = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "second answer"


def test_client_disconnect_stops_the_turn_and_its_process(cold_gateway, fake):
    gateway = cold_gateway
    fake.enqueue(Reply(text="x" * 400, chunk_size=2, delay=0.05))  # about 10 s of streaming
    assert wait_until(lambda: gateway.children() == [], timeout=15)
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": "Bearer e2e-test-key"},
        json={"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "talk"}]},
        timeout=60,
    ) as response:
        for line in response.iter_lines():
            if '"content":"xx"' in line:
                break
        assert gateway.children(), "a Claude process should be serving the turn"
    # Closed mid-stream: the gateway must stop the turn and end the process, well before the
    # upstream would have finished its 10 s answer.
    assert wait_until(lambda: gateway.children() == [], timeout=6), gateway.children()


def test_non_streaming_disconnect_stops_the_turn(cold_gateway, fake):
    gateway = cold_gateway
    fake.enqueue(Reply(text="y" * 400, chunk_size=2, delay=0.05))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": "Bearer e2e-test-key"},
            json={"model": "sonnet", "messages": [{"role": "user", "content": "talk"}]},
            timeout=1.5,
        )
    assert wait_until(lambda: gateway.children() == [], timeout=6), gateway.children()


def test_no_process_outlives_a_finished_request(cold_gateway, fake):
    gateway = cold_gateway
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="e2e-test-key", max_retries=0)
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert wait_until(lambda: gateway.children() == [], timeout=6), gateway.children()


def test_models_list_and_lookup(client):
    ids = [m.id for m in client.models.list().data]
    assert {"sonnet", "opus", "haiku", "gpt-4o"} <= set(ids)
    assert any(i.startswith("claude-") for i in ids)
    assert client.models.retrieve("sonnet").id == "sonnet"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("not-a-model")


def test_api_key_is_required(gateway, fake):
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": "sonnet", "messages": []})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    bad = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    assert httpx.get(f"{gateway.url}/health").status_code == 200  # health needs no key


def test_auth_status_names_the_credential_without_the_secret(gateway, fake):
    response = httpx.get(f"{gateway.url}/v1/auth/status", headers={"x-api-key": "e2e-test-key"})
    # A keyed client learns that a credential is there and its kind, not the account behind it.
    assert response.json() == {
        "credential": {"configured": True, "source": "ANTHROPIC_API_KEY"},
        "claude_code": {"reachable": True},
    }
    assert "sk-ant-fake-key" not in response.text
