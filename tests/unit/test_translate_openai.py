"""The OpenAI translator, table-driven: wire request -> Turn, events -> response."""

from __future__ import annotations

import json

import pytest

from app.core.bodies import parse
from app.core.errors import GatewayError
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, Usage
from app.core.messages import Message
from app.dialects.openai_chat import inbound as t
from app.dialects.openai_chat import outbound as chat_out
from app.dialects.openai_chat.wire import ChatCompletionRequest
from tests.unit.translate_helpers import PNG_B64, text


def turn_of(messages, **extra):
    request = parse(ChatCompletionRequest, {"model": "sonnet", "messages": messages, **extra})
    return t.to_turn(request, "sonnet", "tenant", "id")


@pytest.mark.parametrize(
    "messages, system, expected",
    [
        ([{"role": "user", "content": "hi"}], None, [Message("user", [text("hi")])]),
        (
            [
                {"role": "system", "content": "S1"},
                {"role": "developer", "content": [{"type": "text", "text": "S2"}]},
                {"role": "user", "content": "hi"},
            ],
            "S1\n\nS2",
            [Message("user", [text("hi")])],
        ),
        (  # consecutive user messages merge: Claude needs alternating turns
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            None,
            [Message("user", [text("a"), text("b")])],
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
            None,
            [Message("user", [text("a")]), Message("assistant", [text("b")]), Message("user", [text("c")])],
        ),
        (  # an empty assistant message is dropped, so the users around it merge
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}, {"role": "user", "content": "c"}],
            None,
            [Message("user", [text("a"), text("c")])],
        ),
        (  # tool calls and results become tool_use / tool_result blocks
            [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
            None,
            [
                Message("user", [text("weather?")]),
                Message("assistant", [{"type": "tool_use", "id": "call_1", "name": "get", "input": {"city": "Oslo"}}]),
                Message("user", [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]),
            ],
        ),
    ],
)
def test_messages_to_turn(messages, system, expected):
    turn = turn_of(messages)
    assert turn.system == system
    assert turn.messages == expected
    assert turn.prompt == expected[-1] and turn.history == expected[:-1]


@pytest.mark.parametrize(
    "url, source",
    [
        (f"data:image/png;base64,{PNG_B64}", {"type": "base64", "media_type": "image/png", "data": PNG_B64}),
        (f"data:image/jpeg;base64,{PNG_B64}", {"type": "base64", "media_type": "image/jpeg", "data": PNG_B64}),
        (f"data:image/gif;base64,{PNG_B64}", {"type": "base64", "media_type": "image/gif", "data": PNG_B64}),
        (f"data:image/webp;base64,{PNG_B64}", {"type": "base64", "media_type": "image/webp", "data": PNG_B64}),
        ("https://x.test/a.png", {"type": "url", "url": "https://x.test/a.png"}),
        ("http://x.test/a.png", {"type": "url", "url": "http://x.test/a.png"}),
    ],
)
def test_image_urls(url, source):
    turn = turn_of([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
    assert turn.prompt.content == [{"type": "image", "source": source}]


@pytest.mark.parametrize(
    "url, code",
    [
        (f"data:image/bmp;base64,{PNG_B64}", "invalid_image_format"),
        ("data:image/png;base64,not base64!!", "invalid_image_url"),
        ("data:image/png,rawdata", "invalid_image_url"),
        ("ftp://x.test/a.png", "invalid_image_url"),
        ("file:///etc/passwd", "invalid_image_url"),
    ],
)
def test_bad_image_urls_are_400_naming_the_part(url, code):
    with pytest.raises(GatewayError) as caught:
        turn_of([{"role": "user", "content": [text("x"), {"type": "image_url", "image_url": {"url": url}}]}])
    assert (caught.value.status, caught.value.code) == (400, code)
    assert caught.value.param == "messages[0].content[1].image_url.url"


@pytest.mark.parametrize(
    "body, param, fragment",
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "Missing required parameter"),
        ({"model": "sonnet"}, "messages", "Missing required parameter"),
        ({"model": "sonnet", "messages": []}, "messages", "at least 1"),
        ({"model": "sonnet", "messages": [{"role": "robot", "content": "x"}]}, "messages[0]", "'robot'"),
        (
            {"model": "sonnet", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0]",
            "'input_audio'",
        ),
        (
            {"model": "sonnet", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            "temperature",
            "less than or equal",
        ),
        (
            {"model": "sonnet", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
            "greater than or equal",
        ),
        ({"model": "sonnet", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "Missing"),
    ],
)
def test_invalid_requests_name_the_parameter(body, param, fragment):
    with pytest.raises(GatewayError) as caught:
        parse(ChatCompletionRequest, body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "messages, extra, param",
    [
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
            ],
            {},
            "messages",
        ),  # calls without their results
        ([{"role": "system", "content": "only a system prompt"}], {}, "messages"),
        ([{"role": "user", "content": "   "}], {}, "messages[0].content"),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], {}, "messages[0].content"),
        ([{"role": "user", "content": "x"}], {"n": 9}, "n"),
        ([{"role": "user", "content": "x"}], {"n": 2, "session_id": "s"}, "n"),
        ([{"role": "user", "content": "x"}], {"response_format": {"type": "xml"}}, "response_format"),
        (
            [{"role": "user", "content": "x"}],
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema.schema",
        ),
        ([{"role": "user", "content": "x"}], {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ([{"role": "user", "content": "x"}], {"reasoning_effort": "extreme"}, "reasoning_effort"),
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": "r"},
            ],
            {},
            "messages[1].tool_calls[0].function.arguments",
        ),
    ],
)
def test_requests_the_gateway_cannot_serve_are_400(messages, extra, param):
    with pytest.raises(GatewayError) as caught:
        turn_of(messages, **extra)
    assert caught.value.status == 400 and caught.value.param == param


def test_sampling_parameters_are_accepted():
    turn = turn_of([{"role": "user", "content": "x"}], temperature=0.2, top_p=0.9, seed=1, max_tokens=50)
    assert turn.max_output_tokens == 50
    assert turn_of([{"role": "user", "content": "x"}], max_tokens=50, max_completion_tokens=20).max_output_tokens == 20


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("stop", "stop"),
        ("stop_sequence", "stop"),
        ("length", "length"),
        ("tool_use", "tool_calls"),
        ("content_filter", "content_filter"),
    ],
)
def test_finish_reasons(reason, expected):
    response = chat_out.completion([[TextDelta("x"), Finish(reason)]], "id", 1, "m")
    assert response["choices"][0]["finish_reason"] == expected


def test_completion_collects_text_thinking_and_usage():
    usage = Usage(input_tokens=10, output_tokens=4, cache_read_input_tokens=100, cache_creation_input_tokens=6)
    response = chat_out.completion(
        [[ThinkingDelta("hm"), ThinkingDelta("m"), TextDelta("Hel"), TextDelta("lo"), Finish("stop", usage)]],
        "chatcmpl-1",
        7,
        "sonnet",
    )
    assert response["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello",
        "refusal": None,
        "reasoning_content": "hmm",
    }
    assert response["usage"] == {
        "prompt_tokens": 116,
        "completion_tokens": 4,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert (response["id"], response["created"], response["model"], response["object"]) == (
        "chatcmpl-1",
        7,
        "sonnet",
        "chat.completion",
    )


def test_completion_without_thinking_has_no_reasoning_field():
    message = chat_out.completion([[TextDelta("x"), Finish("stop")]], "id", 1, "m")["choices"][0]["message"]
    assert "reasoning_content" not in message


def test_restart_voids_the_broken_attempt():
    response = chat_out.completion(
        [[TextDelta("broken "), Restart(), TextDelta("whole"), Finish("stop")]], "id", 1, "m"
    )
    assert response["choices"][0]["message"]["content"] == "whole"


def frames(chunks: list[str]) -> list[dict]:
    return [json.loads(c.removeprefix("data: ")) for c in chunks]


def test_chunk_stream_shape():
    stream = chat_out.ChunkStream("chatcmpl-9", 5, "sonnet", include_usage=True)
    out = [stream.start()]
    for event in [TextDelta("a"), ThinkingDelta("t"), TextDelta(""), Finish("length", Usage(1, 2))]:
        out += stream.event(event)
    out += stream.end()
    chunks = frames(out)
    assert [c["choices"][0]["delta"] if c["choices"] else None for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "a"},
        {"reasoning_content": "t"},
        {},
        None,
    ]
    assert [c["choices"][0]["finish_reason"] if c["choices"] else None for c in chunks] == [
        None,
        None,
        None,
        "length",
        None,
    ]
    assert [c["usage"] for c in chunks[:-1]] == [None] * 4
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        ("chatcmpl-9", 5, "sonnet", "chat.completion.chunk")
    }
    assert chat_out.ChunkStream.done() == "data: [DONE]\n\n"


def test_chunk_stream_without_usage_option_sends_no_usage_key():
    stream = chat_out.ChunkStream("c", 1, "m", include_usage=False)
    chunks = frames([stream.start(), *stream.event(Finish("stop")), *stream.end()])
    assert all("usage" not in c for c in chunks)


def test_a_restart_mid_stream_fails_the_stream():
    with pytest.raises(GatewayError) as caught:
        chat_out.ChunkStream("c", 1, "m", False).event(Restart())
    assert caught.value.code == "upstream_stream_interrupted"


@pytest.mark.parametrize(
    "extra, field, value",
    [
        ({"stop": "END"}, "stop", ["END"]),
        ({"stop": ["a", "", "b"]}, "stop", ["a", "b"]),
        ({"response_format": {"type": "json_object"}}, "output_schema", {"type": "object"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": {"type": "object", "properties": {}}},
                }
            },
            "output_schema",
            {"type": "object", "properties": {}},
        ),
        ({"response_format": {"type": "text"}}, "output_schema", None),
        ({"reasoning_effort": "minimal"}, "effort", "low"),
        ({"reasoning_effort": "high"}, "effort", "high"),
        ({"user": "u-1", "metadata": {"k": "v"}}, "metadata", {"k": "v"}),
    ],
)
def test_parameters_that_reach_the_turn(extra, field, value):
    assert getattr(turn_of([{"role": "user", "content": "x"}], **extra), field) == value


FUNCTION = {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    "extra, ignored",
    [
        ({}, []),
        ({"temperature": 0.2, "top_p": 0.5}, ["temperature", "top_p"]),
        ({"seed": 1, "logit_bias": {"1": 1}, "logprobs": True}, ["seed", "logit_bias", "logprobs"]),
        ({"tools": [FUNCTION], "parallel_tool_calls": False}, ["parallel_tool_calls"]),
        ({"parallel_tool_calls": False}, []),  # no functions: nothing to call in parallel
        ({"max_tokens": 5, "user": "u", "stop": "x"}, []),  # applied
        ({"frobnicate": 1}, ["frobnicate"]),  # unknown fields are ignored too, and said so
    ],
)
def test_ignored_parameters_are_named(extra, ignored):
    request = parse(ChatCompletionRequest, {"model": "sonnet", "messages": [{"role": "user", "content": "x"}], **extra})
    assert t.ignored_parameters(request) == ignored


def test_n_choices_in_a_whole_response():
    response = chat_out.completion(
        [[TextDelta("a"), Finish("stop", Usage(3, 1))], [TextDelta("b"), Finish("length", Usage(3, 2))]], "id", 1, "m"
    )
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in response["choices"]] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]
    assert (response["usage"]["prompt_tokens"], response["usage"]["completion_tokens"]) == (6, 3)


def test_n_choices_in_a_stream_share_one_usage_chunk():
    stream = chat_out.ChunkStream("c", 1, "m", include_usage=True)
    out = [stream.start(0), stream.start(1)]
    out += stream.event(TextDelta("b"), 1) + stream.event(TextDelta("a"), 0)
    out += stream.event(Finish("stop", Usage(3, 1)), 1) + stream.event(Finish("stop", Usage(3, 2)), 0) + stream.end()
    chunks = frames(out)
    assert [c["choices"][0]["index"] for c in chunks[:-1]] == [0, 1, 1, 0, 1, 0]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
