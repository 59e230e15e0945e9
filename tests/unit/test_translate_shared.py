"""What every front door's translator does alike, checked on all three at once."""

from __future__ import annotations

import json

import pytest

from app.engine.types import Restart, TextDelta
from app.errors import GatewayError
from app.protocol.anthropic_messages import MessagesRequest
from app.protocol.openai_chat import ChatCompletionRequest
from app.protocol.openai_responses import ResponsesRequest
from app.translate import anthropic_messages, openai_chat, openai_chat_out, openai_responses, openai_responses_out
from app.translate.sse import sse, sse_event

WRITERS = {
    "chat": lambda: openai_chat_out.ChunkStream("c", 1, "m", include_usage=False),
    "messages": lambda: anthropic_messages.EventStream("msg_1", "m"),
    "responses": lambda: openai_responses_out.ResponseBuilder(
        "resp_1", 1, ResponsesRequest.model_validate({"model": "m", "input": "x"})
    ),
}


def test_a_frame_is_data_or_an_event_and_its_data():
    payload = {"type": "ping", "text": "é\n"}
    assert sse(payload) == 'data: {"type":"ping","text":"é\\n"}\n\n'
    assert sse_event(payload) == 'event: ping\ndata: {"type":"ping","text":"é\\n"}\n\n'


@pytest.mark.parametrize("door", WRITERS)
def test_a_restart_fails_every_stream_with_one_error(door):
    writer = WRITERS[door]()
    writer.frames((0, TextDelta("x")) if door == "chat" else TextDelta("x"))
    with pytest.raises(GatewayError) as caught:
        writer.frames((0, Restart()) if door == "chat" else Restart())
    error = caught.value
    assert (error.status, error.type, error.code) == (502, "api_error", "upstream_stream_interrupted")
    assert error.message == (
        "Claude's answer broke off mid-stream and Claude Code started it again; the text already "
        "streamed is void. Retry the request."
    )


def chat_turn(messages, **extra):
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **extra})
    return openai_chat.to_turn(request, "m", "t", "id")


def messages_turn(messages, **extra):
    request = MessagesRequest.model_validate({"model": "m", "max_tokens": 10, "messages": messages, **extra})
    return anthropic_messages.to_turn(request, "m", "t", "id")


def responses_turn(messages, **extra):
    request = ResponsesRequest.model_validate({"model": "m", "input": messages, **extra})
    return openai_responses.to_turn(request, "m", "t", "id", [], None)


TURNS = {"chat": chat_turn, "messages": messages_turn, "responses": responses_turn}


@pytest.mark.parametrize("door", TURNS)
def test_the_last_message_must_be_the_users_on_every_door(door):
    with pytest.raises(GatewayError) as caught:
        TURNS[door]([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert (caught.value.code, caught.value.message) == (
        "invalid_last_message",
        "The last message must come from the user (or be a tool result); Claude Code cannot continue "
        "an assistant message.",
    )


@pytest.mark.parametrize("door", TURNS)
def test_a_function_without_a_schema_takes_no_arguments_on_every_door(door):
    tool = {
        "chat": {"type": "function", "function": {"name": "f"}},
        "messages": {"name": "f", "input_schema": {}},
        "responses": {"type": "function", "name": "f"},
    }[door]
    (spec,) = TURNS[door]([{"role": "user", "content": "x"}], tools=[tool]).tools
    assert (spec.name, spec.description, json.loads(spec.schema)) == ("f", "", {"type": "object", "properties": {}})


@pytest.mark.parametrize(
    "door, extra, param",
    [
        ("chat", {"reasoning_effort": "extreme"}, "reasoning_effort"),
        ("responses", {"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ],
)
def test_an_unknown_effort_is_refused_alike(door, extra, param):
    with pytest.raises(GatewayError) as caught:
        TURNS[door]([{"role": "user", "content": "x"}], **extra)
    assert (caught.value.param, caught.value.code) == (param, "invalid_value")
    assert caught.value.message == f"{param} must be one of none, minimal, low, medium, high, xhigh."


@pytest.mark.parametrize(
    "door, extra, param",
    [
        ("chat", {"response_format": {"type": "json_object"}}, "response_format"),
        ("responses", {"text": {"format": {"type": "json_object"}}}, "text.format"),
    ],
)
def test_tools_and_a_json_format_are_refused_alike(door, extra, param):
    tool = {"chat": {"type": "function", "function": {"name": "f"}}, "responses": {"type": "function", "name": "f"}}
    with pytest.raises(GatewayError) as caught:
        TURNS[door]([{"role": "user", "content": "x"}], tools=[tool[door]], **extra)
    assert (caught.value.param, caught.value.code) == (param, "unsupported_parameter")
    assert caught.value.message.startswith(f"tools and a JSON {param} cannot be combined here")
