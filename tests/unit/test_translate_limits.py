"""Client data that would reach Claude Code's command line or its fetcher: refused with a clear 400
on every door, and only known fields passed on."""

from __future__ import annotations

import pytest

from app.core.errors import GatewayError
from app.dialects.anthropic_messages import inbound as anthropic_messages
from app.dialects.anthropic_messages import wire as am
from app.dialects.openai_chat import inbound as openai_chat
from app.dialects.openai_chat import wire as oc
from app.dialects.openai_responses import inbound as openai_responses
from app.dialects.openai_responses import wire as orq
from app.dialects.request_rules import MAX_SCHEMA_BYTES

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def schema_of(size: int) -> dict:
    return {"type": "object", "description": "x" * size}


def chat_turn(**extra):
    request = oc.ChatCompletionRequest.model_validate(
        {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], **extra}
    )
    return openai_chat.to_turn(request, "sonnet", "t", "id")


def responses_turn(**extra):
    request = orq.ResponsesRequest.model_validate({"model": "sonnet", "input": "hi", **extra})
    return openai_responses.to_turn(request, "sonnet", "t", "id", [], None)


def messages_turn(content=None, **extra):
    request = am.MessagesRequest.model_validate(
        {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": content or "hi"}], **extra}
    )
    return request, anthropic_messages.to_turn(request, "sonnet", "t", "id")


@pytest.mark.parametrize("door", ["chat", "responses"])
def test_an_output_schema_over_the_cap_is_a_400(door):
    small, large = schema_of(MAX_SCHEMA_BYTES - 100), schema_of(MAX_SCHEMA_BYTES)
    if door == "chat":
        make = lambda s: chat_turn(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": s}})  # noqa: E731
        param = "response_format.json_schema.schema"
    else:
        make = lambda s: responses_turn(text={"format": {"type": "json_schema", "name": "x", "schema": s}})  # noqa: E731
        param = "text.format.schema"
    assert make(small).output_schema == small
    with pytest.raises(GatewayError) as refused:
        make(large)
    assert (refused.value.status, refused.value.code, refused.value.param) == (400, "schema_too_large", param)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "data:image/png;base64," + PNG,
        "javascript:alert(1)",
        "http://",
        "https:///no-host.png",
        "//example.com/a.png",
        "example.com/a.png",
    ],
)
def test_anthropic_image_urls_follow_the_openai_rule(url):
    with pytest.raises(GatewayError) as refused:
        messages_turn([{"type": "image", "source": {"type": "url", "url": url}}])
    assert refused.value.code == "invalid_image_url" and refused.value.param == "messages[0].content[0].source.url"
    if url.startswith("data:"):
        return  # the OpenAI doors take base64 images as data: URLs
    with pytest.raises(GatewayError):  # the same rule on the OpenAI door
        chat_turn(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])


def test_anthropic_images_pass_only_known_fields():
    _, turn = messages_turn(
        [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png", "x_extra": "1"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG, "path": "/etc/x"}},
        ]
    )
    assert turn.messages[0].content == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


@pytest.mark.parametrize(
    "thinking, passed, ignored",
    [
        (
            {"type": "enabled", "budget_tokens": 2048, "bogus": "--flag"},
            {"type": "enabled", "budget_tokens": 2048},
            ["thinking.bogus"],
        ),
        (
            {"type": "adaptive", "display": "summarized", "x": 1},
            {"type": "adaptive", "display": "summarized"},
            ["thinking.x"],
        ),
        ({"type": "disabled", "budget_tokens": 5}, {"type": "disabled"}, ["thinking.budget_tokens"]),
    ],
)
def test_anthropic_thinking_passes_only_known_fields(thinking, passed, ignored):
    request, turn = messages_turn(thinking=thinking)
    assert turn.thinking == passed
    assert anthropic_messages.ignored_parameters(request) == ignored


def test_anthropic_thinking_display_is_checked():
    with pytest.raises(ValueError):
        messages_turn(thinking={"type": "adaptive", "display": "--model=opus"})
