"""What every front door's translator does alike, checked on all three at once."""

from __future__ import annotations

import json

import pytest

from app.core.errors import GatewayError
from app.core.events import Restart, TextDelta
from app.dialects.anthropic_messages import inbound as anthropic_messages
from app.dialects.anthropic_messages import outbound as anthropic_messages_out
from app.dialects.anthropic_messages.wire import MessagesRequest
from app.dialects.openai_chat import inbound as openai_chat
from app.dialects.openai_chat import outbound as openai_chat_out
from app.dialects.openai_chat.wire import ChatCompletionRequest
from app.dialects.openai_responses import inbound as openai_responses
from app.dialects.openai_responses import outbound as openai_responses_out
from app.dialects.openai_responses.wire import ResponsesRequest
from app.dialects.request_rules import CONTINUE_PROMPT
from app.dialects.sse import sse, sse_event

WRITERS = {
    "chat": lambda: openai_chat_out.ChunkStream("c", 1, "m", include_usage=False),
    "messages": lambda: anthropic_messages_out.EventStream("msg_1", "m"),
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


@pytest.mark.parametrize("door", ["chat", "responses"])
def test_a_conversation_ending_with_the_assistants_message_gets_the_next_one_on_openais_doors(door):
    # OpenAI answers it with the next assistant message; Claude Code needs a user message to run a
    # turn, so a short fixed one follows the assistant's.
    turn = TURNS[door]([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert [(m.role, m.content) for m in turn.messages] == [
        ("user", [{"type": "text", "text": "a"}]),
        ("assistant", [{"type": "text", "text": "b"}]),
        ("user", [{"type": "text", "text": CONTINUE_PROMPT}]),
    ]


def test_a_last_assistant_message_is_a_prefill_claude_code_cannot_serve_on_the_messages_door():
    with pytest.raises(GatewayError) as caught:
        TURNS["messages"]([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert (caught.value.code, caught.value.message) == (
        "invalid_last_message",
        "The last message must come from the user (or be a tool result); Claude Code cannot continue "
        "an assistant message.",
    )


@pytest.mark.parametrize(
    "door, messages",
    [
        ("chat", [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}]),
        ("responses", [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]),
    ],
)
def test_a_last_assistant_message_that_calls_functions_needs_their_results(door, messages):
    with pytest.raises(GatewayError) as caught:
        TURNS[door]([{"role": "user", "content": "a"}, *messages], tools=[TOOLS[door][0]])
    assert (caught.value.status, caught.value.code) == (400, "invalid_last_message")
    assert caught.value.message.startswith("The last message calls functions: send their results after it")


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
    assert caught.value.message == f"{param} must be one of none, minimal, low, medium, high, xhigh, max."


OBJECT = {"type": "object"}


@pytest.mark.parametrize(
    "door, extra",
    [
        ("chat", {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": OBJECT}}}),
        ("chat", {"response_format": {"type": "json_object"}}),
        ("responses", {"text": {"format": {"type": "json_schema", "name": "a", "schema": OBJECT}}}),
        ("responses", {"text": {"format": {"type": "json_object"}}}),
    ],
)
def test_tools_and_a_json_format_reach_the_turn_together(door, extra):
    # Claude may call the client's functions first; its last answer is the JSON (Claude Code's
    # structured output), as OpenAI serves the pair.
    tool = {"chat": {"type": "function", "function": {"name": "f"}}, "responses": {"type": "function", "name": "f"}}
    turn = TURNS[door]([{"role": "user", "content": "x"}], tools=[tool[door]], **extra)
    assert [spec.name for spec in turn.tools] == ["f"] and turn.output_schema == {"type": "object"}


IGNORED = {
    "chat": lambda **extra: openai_chat.ignored_parameters(
        ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}], **extra})
    ),
    "messages": lambda **extra: anthropic_messages.ignored_parameters(
        MessagesRequest.model_validate(
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], **extra}
        )
    ),
    "responses": lambda **extra: openai_responses.ignored_parameters(
        ResponsesRequest.model_validate({"model": "m", "input": "x", **extra})
    ),
}
TOOLS = {
    "chat": [{"type": "function", "function": {"name": "f"}}],
    "messages": [{"name": "f", "input_schema": {"type": "object"}}],
    "responses": [{"type": "function", "name": "f"}],
}


@pytest.mark.parametrize(
    "door, no_op, other, named",
    [
        # What frameworks send on every request, at the value that asks for what happens anyway;
        # and the same parameter at another value, still reported.
        ("chat", {"temperature": 1}, {"temperature": 0.2}, "temperature"),
        ("chat", {"top_p": 1.0}, {"top_p": 0.5}, "top_p"),
        ("chat", {"presence_penalty": 0}, {"presence_penalty": 0.5}, "presence_penalty"),
        ("chat", {"frequency_penalty": 0.0}, {"frequency_penalty": 1}, "frequency_penalty"),
        ("chat", {"logit_bias": {}}, {"logit_bias": {"1": 2}}, "logit_bias"),
        ("chat", {"logprobs": False}, {"logprobs": True}, "logprobs"),
        ("chat", {"top_logprobs": 0}, {"top_logprobs": 2}, "top_logprobs"),
        ("chat", {"service_tier": "auto"}, {"service_tier": "flex"}, "service_tier"),
        ("chat", {"store": False}, {"store": True}, "store"),
        ("chat", {"modalities": ["text"]}, {"modalities": ["text", "audio"]}, "modalities"),
        ("chat", {"parallel_tool_calls": True}, {"parallel_tool_calls": False}, "parallel_tool_calls"),
        ("chat", {"n": 1, "stop": [], "metadata": {}, "stream_options": {"include_usage": False}}, {"seed": 1}, "seed"),
        ("responses", {"include": []}, {"include": ["reasoning.encrypted_content"]}, "include"),
        ("responses", {"truncation": "disabled"}, {"truncation": "auto"}, "truncation"),
        ("responses", {"temperature": 1.0}, {"temperature": 0}, "temperature"),
        ("responses", {"top_p": 1}, {"top_p": 0.9}, "top_p"),
        ("responses", {"service_tier": "auto"}, {"service_tier": "priority"}, "service_tier"),
        ("responses", {"parallel_tool_calls": True}, {"parallel_tool_calls": False}, "parallel_tool_calls"),
        ("responses", {"store": False, "metadata": {}}, {"truncation": "auto"}, "truncation"),
        ("messages", {"temperature": 1}, {"temperature": 0.5}, "temperature"),
        ("messages", {"top_p": 1}, {"top_p": 0.5}, "top_p"),
        ("messages", {"service_tier": "auto"}, {"service_tier": "standard_only"}, "service_tier"),
        ("messages", {"stop_sequences": [], "metadata": {}}, {"top_k": 5}, "top_k"),
        (
            "messages",
            {"tool_choice": {"type": "auto", "disable_parallel_tool_use": False}},
            {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
            "tool_choice.disable_parallel_tool_use",
        ),
    ],
)
@pytest.mark.parametrize("tools", [False, True], ids=["no_tools", "tools"])
def test_a_parameter_at_its_no_op_value_is_not_reported_but_at_any_other_it_is(door, no_op, other, named, tools):
    offered = {"tools": TOOLS[door]} if tools else {}
    assert IGNORED[door](**offered, **no_op) == []
    if tools or "parallel" not in named:  # without tools, parallel calls are moot: nothing to report
        assert IGNORED[door](**offered, **other) == [named]
    else:
        assert IGNORED[door](**other) == []
