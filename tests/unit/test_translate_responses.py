"""The OpenAI Responses translator, table-driven: wire request -> Turn, events -> Response object
and stream events."""

from __future__ import annotations

import json

import pytest

from app.core.bodies import parse
from app.core.errors import GatewayError
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart, Usage
from app.core.messages import Message, ToolSpec
from app.dialects.openai_responses import inbound as t
from app.dialects.openai_responses import outbound as responses_out
from app.dialects.openai_responses.wire import ResponsesRequest
from tests.unit.translate_helpers import PNG_B64, text


def request_of(input="hi", **extra) -> ResponsesRequest:
    return parse(ResponsesRequest, {"model": "sonnet", "input": input, **extra})


def turn_of(input="hi", earlier=None, earlier_system=None, **extra):
    return t.to_turn(request_of(input, **extra), "sonnet", "tenant", "id", earlier or [], earlier_system)


def user(content):
    return {"role": "user", "content": content}


# --- request -> Turn --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "input, expected",
    [
        ("hi", [Message("user", [text("hi")])]),
        ([user("hi")], [Message("user", [text("hi")])]),
        ([{"type": "message", "role": "user", "content": "hi"}], [Message("user", [text("hi")])]),
        (
            [
                user(
                    [
                        {"type": "input_text", "text": "a"},
                        {"type": "input_text", "text": " "},
                        {"type": "text", "text": "b"},
                    ]
                )
            ],
            [Message("user", [text("a"), text("b")])],
        ),
        ([user("a"), user("b")], [Message("user", [text("a"), text("b")])]),  # merged: Claude alternates
        (
            [
                user("a"),
                {
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "b"}, {"type": "refusal", "refusal": "no"}],
                },
                user("c"),
            ],
            [Message("user", [text("a")]), Message("assistant", [text("b"), text("no")]), Message("user", [text("c")])],
        ),
        (  # a blank refusal is no text block: Claude refuses empty ones
            [user("a"), {"role": "assistant", "content": [{"type": "refusal", "refusal": ""}]}, user("b")],
            [Message("user", [text("a"), text("b")])],
        ),
        (  # earlier reasoning is not sent back
            [user("a"), {"type": "reasoning", "id": "rs_1", "summary": []}, user("b")],
            [Message("user", [text("a"), text("b")])],
        ),
        (  # function calls and their outputs become tool_use and tool_result blocks
            [
                user("weather?"),
                {"type": "function_call", "call_id": "c1", "name": "get", "arguments": '{"city": "Oslo"}'},
                {"type": "function_call", "call_id": "c2", "name": "get", "arguments": ""},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "a"}, text("b")],
                },
            ],
            [
                Message("user", [text("weather?")]),
                Message(
                    "assistant",
                    [
                        {"type": "tool_use", "id": "c1", "name": "get", "input": {"city": "Oslo"}},
                        {"type": "tool_use", "id": "c2", "name": "get", "input": {}},
                    ],
                ),
                Message(
                    "user",
                    [
                        {"type": "tool_result", "tool_use_id": "c1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "c2", "content": "a\nb"},
                    ],
                ),
            ],
        ),
        (
            [user([{"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"}])],
            [
                Message(
                    "user",
                    [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}],
                )
            ],
        ),
        (
            [user([{"type": "input_image", "image_url": "https://x.test/a.png"}])],
            [Message("user", [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}])],
        ),
    ],
)
def test_input_to_turn(input, expected):
    turn = turn_of(input)
    assert turn.messages == expected
    assert turn.prompt == expected[-1] and turn.history == expected[:-1]


def test_the_earlier_conversation_comes_first():
    earlier = [Message("user", [text("a")]), Message("assistant", [text("b")])]
    turn = turn_of("c", earlier)
    assert turn.messages == [*earlier, Message("user", [text("c")])]
    assert earlier[1].content == [text("b")]  # not changed in place


@pytest.mark.parametrize(
    "input, extra, earlier_system, system",
    [
        ("hi", {}, None, None),
        ("hi", {"instructions": "Be brief."}, None, "Be brief."),
        ("hi", {}, "Earlier.", "Earlier."),
        ("hi", {"instructions": "Now."}, "Earlier.", "Now."),  # instructions replace the earlier ones
        ([{"role": "system", "content": "S"}, {"role": "developer", "content": "D"}, user("x")], {}, None, "S\n\nD"),
        (
            [{"role": "developer", "content": [{"type": "input_text", "text": "a"}, text("b")]}, user("x")],
            {"instructions": "I"},
            None,
            "I\n\na b",
        ),
    ],
)
def test_system(input, extra, earlier_system, system):
    assert turn_of(input, None, earlier_system, **extra).system == system


WEATHER = {"type": "function", "name": "get", "description": "Weather", "parameters": {"type": "object"}}
WEATHER_SPEC = ToolSpec("get", "Weather", '{"type": "object"}')


@pytest.mark.parametrize(
    "extra, tools, system",
    [
        ({}, (), None),
        ({"tools": [WEATHER]}, (WEATHER_SPEC,), None),
        ({"tools": [WEATHER], "tool_choice": "auto"}, (WEATHER_SPEC,), None),
        ({"tools": [WEATHER], "tool_choice": "none"}, (), None),
        ({"tools": [WEATHER], "tool_choice": "required"}, (WEATHER_SPEC,), "You must call one of the functions now."),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "name": "get"}, "instructions": "I"},
            (WEATHER_SPEC,),
            "I\n\nYou must call the function `get` now.",
        ),
        ({"tool_choice": "required"}, (), None),  # nothing to force without tools
        (
            {"tools": [{"type": "function", "name": "bare"}]},
            (ToolSpec("bare", "", '{"properties": {}, "type": "object"}'),),
            None,
        ),
    ],
)
def test_tools_and_tool_choice(extra, tools, system):
    turn = turn_of(**extra)
    assert (turn.tools, turn.system) == (tools, system)


@pytest.mark.parametrize(
    "extra, field, value",
    [
        ({"max_output_tokens": 50}, "max_output_tokens", 50),
        ({"max_output_tokens": 10**9}, "max_output_tokens", 128_000),
        ({}, "max_output_tokens", None),
        ({"text": {"format": {"type": "text"}}}, "output_schema", None),
        ({"text": {"format": {"type": "json_object"}}}, "output_schema", {"type": "object"}),
        (
            {"text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object", "properties": {}}}}},
            "output_schema",
            {"type": "object", "properties": {}},
        ),
        ({"text": {}}, "output_schema", None),
        ({"reasoning": {"effort": "minimal"}}, "effort", "low"),
        ({"reasoning": {"effort": "xhigh"}}, "effort", "xhigh"),
        ({"reasoning": {}}, "effort", None),
        ({"user": "u-1"}, "user", "u-1"),
        ({"metadata": {"k": "v"}}, "metadata", {"k": "v"}),
        ({}, "metadata", {}),
        ({}, "stop", []),
        ({}, "thinking", None),
    ],
)
def test_parameters_that_reach_the_turn(extra, field, value):
    assert getattr(turn_of(**extra), field) == value


def test_the_turn_names_its_model_tenant_and_request():
    turn = turn_of()
    assert (turn.model, turn.tenant, turn.request_id) == ("sonnet", "tenant", "id")


@pytest.mark.parametrize(
    "input, extra, param, code",
    [
        ("   ", {}, "input", "invalid_last_message"),
        (
            [user("a"), {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}],
            {},
            "input",
            "invalid_last_message",
        ),  # a call without its result
        ([{"role": "system", "content": "only a system prompt"}], {}, "input", "invalid_last_message"),
        (
            [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{no"}, user("x")],
            {},
            "input[0].arguments",
            None,
        ),
        (
            [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}, user("x")],
            {},
            "input[0].arguments",
            None,
        ),
        ([user([{"type": "input_image", "file_id": "file_1"}])], {}, "input[0].content[0].image_url", None),
        (
            [user([text("x"), {"type": "input_image", "image_url": "ftp://x.test/a.png"}])],
            {},
            "input[0].content[1].image_url",
            "invalid_image_url",
        ),
        (
            [
                user("x"),
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "x"}]},
            ],
            {},
            "input[2].output[0].image_url",  # images may be a function's output; this URL is no URL
            "invalid_image_url",
        ),
        ("x", {"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema", "invalid_value"),
        ("x", {"reasoning": {"effort": "extreme"}}, "reasoning.effort", "invalid_value"),
    ],
)
def test_requests_the_gateway_cannot_serve_are_400_naming_the_parameter(input, extra, param, code):
    with pytest.raises(GatewayError) as caught:
        turn_of(input, **extra)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, param, code)


@pytest.mark.parametrize(
    "extra, ignored",
    [
        ({}, []),
        ({"temperature": 0.2, "top_p": 0.5, "truncation": "auto"}, ["temperature", "top_p", "truncation"]),
        ({"include": ["reasoning.encrypted_content"], "service_tier": "flex"}, ["service_tier", "include"]),
        ({"max_output_tokens": 200_000}, ["max_output_tokens"]),
        ({"tools": [WEATHER], "parallel_tool_calls": False}, ["parallel_tool_calls"]),
        ({"parallel_tool_calls": False}, []),  # no tools: nothing to call in parallel
        ({"parallel_tool_calls": True}, []),
        ({"tools": [WEATHER], "parallel_tool_calls": True}, []),
        ({"tools": [WEATHER], "tool_choice": "required"}, []),  # enforced (engine/turns/forcing.py)
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "get"}}, []),
        ({"tools": [WEATHER], "tool_choice": "auto"}, []),
        ({"user": "u", "metadata": {"k": "v"}, "store": False}, []),  # applied
        ({"frobnicate": 1}, ["frobnicate"]),  # unknown fields, said so
    ],
)
def test_ignored_parameters_are_named(extra, ignored):
    assert t.ignored_parameters(request_of(**extra)) == ignored


# --- events -> whole response -----------------------------------------------------------------------
def builder(**extra):
    return responses_out.ResponseBuilder("resp_1", 7, request_of(**extra))


def whole(*events, **extra):
    return responses_out.build(list(events), builder(**extra))


def test_a_response_echoes_the_request():
    response = whole(
        Finish("stop"),
        instructions="I",
        max_output_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}}},
        metadata={"k": "v"},
        temperature=0.5,
        user="u",
        store=False,
    )
    assert {k: v for k, v in response.items() if k not in ("output", "usage")} == {
        "id": "resp_1",
        "object": "response",
        "created_at": 7,
        "model": "sonnet",
        "instructions": "I",
        "max_output_tokens": 50,
        "previous_response_id": None,
        "store": False,
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}}},
        "metadata": {"k": "v"},
        "temperature": 0.5,
        "top_p": None,
        "user": "u",
        "error": None,
        "incomplete_details": None,
        "status": "completed",
    }


def test_a_response_with_reasoning_text_and_usage():
    usage = Usage(input_tokens=10, output_tokens=4, cache_read_input_tokens=100, cache_creation_input_tokens=6)
    response = whole(ThinkingDelta("h"), ThinkingDelta("m"), TextDelta("Hel"), TextDelta("lo"), Finish("stop", usage))
    reasoning, answer = response["output"]
    assert reasoning["id"].startswith("rs_") and answer["id"].startswith("msg_")
    assert {**reasoning, "id": ""} == {
        "type": "reasoning",
        "id": "",
        "summary": [{"type": "summary_text", "text": "hm"}],
    }
    assert {**answer, "id": ""} == {
        "type": "message",
        "id": "",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
    }
    assert response["usage"] == {
        "input_tokens": 116,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 120,
    }
    assert (response["status"], response["incomplete_details"]) == ("completed", None)


def test_a_response_with_function_calls():
    response = whole(
        ToolCallStart(0, "call_1", "get"),
        ToolCallDelta(0, '{"city":'),
        ToolCallDelta(0, ' "Oslo"}'),
        ToolCallStart(1, "call_2", "get"),
        Finish("tool_use"),
    )
    assert [item["id"][:3] for item in response["output"]] == ["fc_", "fc_"]
    assert [{**item, "id": ""} for item in response["output"]] == [
        {
            "type": "function_call",
            "id": "",
            "call_id": "call_1",
            "name": "get",
            "arguments": '{"city": "Oslo"}',
            "status": "completed",
        },
        {"type": "function_call", "id": "", "call_id": "call_2", "name": "get", "arguments": "", "status": "completed"},
    ]
    assert response["status"] == "completed"


@pytest.mark.parametrize(
    "reason, status, details",
    [
        ("stop", "completed", None),
        ("stop_sequence", "completed", None),
        ("tool_use", "completed", None),
        ("content_filter", "completed", None),
        ("length", "incomplete", {"reason": "max_output_tokens"}),
    ],
)
def test_finish_reasons(reason, status, details):
    response = whole(TextDelta("x"), Finish(reason))
    assert (response["status"], response["incomplete_details"]) == (status, details)


def test_a_restart_voids_the_broken_attempt():
    response = whole(
        ThinkingDelta("old"),
        TextDelta("broken "),
        ToolCallStart(0, "c", "f"),
        Restart(),
        TextDelta("whole"),
        Finish("stop"),
    )
    assert [item["type"] for item in response["output"]] == ["message"]
    assert response["output"][0]["content"][0]["text"] == "whole"


def test_a_failed_response_names_the_error():
    b = builder()
    responses_out.build([TextDelta("x")], b)
    failed = b.failed(GatewayError(502, "Gone.", "api_error", "upstream_error"))
    assert (failed["status"], failed["error"]) == ("failed", {"code": "upstream_error", "message": "Gone."})
    assert failed["output"][0]["status"] == "in_progress" and failed["usage"] is None


# --- events -> stream -------------------------------------------------------------------------------
def parsed(frames: list[str]) -> list[dict]:
    out = []
    for frame in frames:
        assert frame.endswith("\n\n")
        name, data = frame.removesuffix("\n\n").split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        out.append(payload)
    assert [p["sequence_number"] for p in out] == list(range(len(out)))
    return out


def stream(*events, **extra) -> list[dict]:
    writer = builder(**extra)
    frames = writer.opening()
    for event in events:
        frames += writer.frames(event)
    return parsed(frames + writer.closing())


def test_a_stream_opens_with_the_response_in_progress():
    created, in_progress = stream()
    assert created["type"] == "response.created" and in_progress["type"] == "response.in_progress"
    for event in (created, in_progress):
        assert (event["response"]["status"], event["response"]["output"], event["response"]["usage"]) == (
            "in_progress",
            [],
            None,
        )


def test_a_streamed_text_answer():
    frames = stream(ThinkingDelta("hm"), TextDelta("Hel"), TextDelta("lo"), Finish("stop", Usage(3, 2)))[2:]
    assert [f["type"] for f in frames] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    item_id = frames[0]["item"]["id"]
    assert frames[0]["item"] == {
        "type": "message",
        "id": item_id,
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert all(f["output_index"] == 1 for f in frames[:-1])  # the reasoning item is output[0]
    assert all(f["item_id"] == item_id for f in frames[1:-2])
    assert [f["delta"] for f in frames[2:4]] == ["Hel", "lo"]
    assert frames[4]["text"] == "Hello"
    assert frames[5]["part"] == {"type": "output_text", "text": "Hello", "annotations": []}
    assert frames[6]["item"]["status"] == "completed" and frames[6]["item"]["content"][0]["text"] == "Hello"
    final = frames[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] == 2
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["output"][1]["id"] == item_id


def test_a_streamed_function_call():
    frames = stream(
        TextDelta("Looking."),
        ToolCallStart(0, "call_1", "get"),
        ToolCallDelta(0, '{"a":'),
        ToolCallDelta(0, "1}"),
        Finish("tool_use"),
    )[2:]
    assert [f["type"] for f in frames] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = frames[6], frames[10]
    assert added["output_index"] == 1 and added["item"]["call_id"] == "call_1" and added["item"]["arguments"] == ""
    assert added["item"]["status"] == "in_progress" and added["item"]["name"] == "get"
    assert [f["delta"] for f in frames[7:9]] == ['{"a":', "1}"]
    assert frames[9]["arguments"] == '{"a":1}' and frames[9]["item_id"] == added["item"]["id"]
    assert done["item"] == {**added["item"], "arguments": '{"a":1}', "status": "completed"}


def test_a_stream_cut_by_max_output_tokens_ends_incomplete():
    final = stream(TextDelta("x"), Finish("length"))[-1]
    assert final["type"] == "response.incomplete"
    assert (final["response"]["status"], final["response"]["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )


def test_a_restart_mid_stream_fails_the_stream():
    writer = builder()
    writer.frames(TextDelta("x"))
    with pytest.raises(GatewayError) as caught:
        writer.frames(Restart())
    assert (caught.value.status, caught.value.code) == (502, "upstream_stream_interrupted")


def test_a_failure_is_a_response_failed_event():
    writer = builder()
    frames = writer.opening() + writer.frames(TextDelta("x"))
    frames += writer.failure(GatewayError(502, "Gone.", "api_error", "upstream_error"))
    failed = parsed(frames)[-1]
    assert failed["type"] == "response.failed"
    assert (failed["response"]["status"], failed["response"]["error"]) == (
        "failed",
        {"code": "upstream_error", "message": "Gone."},
    )


def test_a_blank_first_delta_still_opens_the_message_item():
    frames = stream(TextDelta(""), TextDelta("hi"), Finish("stop"))[2:]
    assert [f["type"] for f in frames] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert frames[-1]["response"]["output"][0]["content"][0]["text"] == "hi"


def test_every_item_added_is_done_before_the_next_begins():
    frames = stream(TextDelta("a"), ThinkingDelta("t"), TextDelta("b"), Finish("stop"))[2:]
    items = [(f["type"], f["output_index"]) for f in frames if f["type"].startswith("response.output_item.")]
    assert items == [
        ("response.output_item.added", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 2),
        ("response.output_item.done", 2),
    ]
    assert [item["type"] for item in frames[-1]["response"]["output"]] == ["message", "reasoning", "message"]


def test_blank_deltas_make_no_item():
    assert whole(TextDelta(""), ThinkingDelta(""), Finish("stop"))["output"] == []
