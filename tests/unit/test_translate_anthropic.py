"""The Anthropic Messages translator, table-driven: wire request -> Turn, events -> message and
stream events."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.core.bodies import parse
from app.core.errors import GatewayError
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart, Usage
from app.core.messages import Message, ToolSpec
from app.dialects.anthropic_messages import inbound as t
from app.dialects.anthropic_messages import outbound as t_out
from app.dialects.anthropic_messages.wire import MessagesRequest
from tests.unit.translate_helpers import PNG_B64, text

USER = [{"role": "user", "content": "hi"}]


def request_of(messages=None, **extra) -> MessagesRequest:
    return parse(MessagesRequest, {"model": "sonnet", "max_tokens": 100, "messages": messages or USER, **extra})


def turn_of(messages=None, **extra):
    return t.to_turn(request_of(messages, **extra), "sonnet", "tenant", "id")


def tool_use(call_id="toolu_1", name="get", arguments=None):
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments or {"city": "Oslo"}}


# --- request -> Turn --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "messages, expected",
    [
        (USER, [Message("user", [text("hi")])]),
        ([{"role": "user", "content": [text("a"), text("   "), text("b")]}], [Message("user", [text("a"), text("b")])]),
        (  # consecutive user messages merge: Claude needs alternating turns
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            [Message("user", [text("a"), text("b")])],
        ),
        (  # an empty assistant message is dropped, so the users around it merge
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": " "}, {"role": "user", "content": "c"}],
            [Message("user", [text("a"), text("c")])],
        ),
        (  # earlier thinking is not sent back: its signature is Anthropic's
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, text("b")],
                },
                {"role": "user", "content": "c"},
            ],
            [Message("user", [text("a")]), Message("assistant", [text("b")]), Message("user", [text("c")])],
        ),
        (  # tool calls and results pass as they are; an error result says so; list results are text
            [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [text("Let me look."), tool_use(), tool_use("toolu_2")]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "down", "is_error": True},
                        {"type": "tool_result", "tool_use_id": "toolu_3", "content": [text("a"), text("b")]},
                        {"type": "tool_result", "tool_use_id": "toolu_4"},
                    ],
                },
            ],
            [
                Message("user", [text("weather?")]),
                Message("assistant", [text("Let me look."), tool_use(), tool_use("toolu_2")]),
                Message(
                    "user",
                    [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "Error: down"},
                        {"type": "tool_result", "tool_use_id": "toolu_3", "content": "a\nb"},
                        {"type": "tool_result", "tool_use_id": "toolu_4", "content": ""},
                    ],
                ),
            ],
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}],
                }
            ],
            [Message("user", [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}])],
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "IMAGE/PNG", "data": PNG_B64}}
                    ],
                }
            ],
            [
                Message(
                    "user",
                    [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}],
                )
            ],
        ),
    ],
)
def test_messages_to_turn(messages, expected):
    turn = turn_of(messages)
    assert turn.messages == expected
    assert turn.prompt == expected[-1] and turn.history == expected[:-1]


@pytest.mark.parametrize(
    "system, expected",
    [
        (None, None),
        ("", None),
        ("Be brief.", "Be brief."),
        ([text("One."), text("Two.")], "One.\n\nTwo."),
        ([], None),
    ],
)
def test_system(system, expected):
    assert turn_of(system=system).system == expected


WEATHER = {"name": "get", "description": "Weather", "input_schema": {"type": "object", "properties": {"c": {}}}}
WEATHER_SPEC = ToolSpec("get", "Weather", json.dumps(WEATHER["input_schema"], sort_keys=True))


@pytest.mark.parametrize(
    "extra, tools, system",
    [
        ({}, (), None),
        ({"tools": [WEATHER]}, (WEATHER_SPEC,), None),
        ({"tools": [WEATHER], "tool_choice": {"type": "auto"}}, (WEATHER_SPEC,), None),
        ({"tools": [WEATHER], "tool_choice": {"type": "none"}}, (), None),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "any"}},
            (WEATHER_SPEC,),
            "You must call one of the functions now.",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get"}, "system": "S"},
            (WEATHER_SPEC,),
            "S\n\nYou must call the function `get` now.",
        ),
        ({"tool_choice": {"type": "any"}, "system": "S"}, (), "S"),  # nothing to force without tools
        (
            {"tools": [{"name": "bare", "input_schema": {"type": "object"}}]},
            (ToolSpec("bare", "", '{"type": "object"}'),),
            None,
        ),
        (  # an empty schema takes no arguments, as on the OpenAI doors
            {"tools": [{"name": "bare", "input_schema": {}}]},
            (ToolSpec("bare", "", '{"properties": {}, "type": "object"}'),),
            None,
        ),
    ],
)
def test_tools_and_tool_choice(extra, tools, system):
    turn = turn_of(**extra)
    assert (turn.tools, turn.system) == (tools, system)


DEFERRED = {**WEATHER, "name": "later", "defer_loading": True}
LATER_SPEC = ToolSpec("later", "Weather", WEATHER_SPEC.schema)
REGEX = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
BM25 = {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}


@pytest.mark.parametrize(
    "tools, specs, ignored",
    [
        # A search tool: the deferred tool is deferred; the search tool itself is no client tool.
        ([WEATHER, DEFERRED, REGEX], (WEATHER_SPEC, ToolSpec("later", "Weather", WEATHER_SPEC.schema, True)), []),
        ([BM25, DEFERRED], (ToolSpec("later", "Weather", WEATHER_SPEC.schema, True),), []),
        ([{**WEATHER, "defer_loading": False}, REGEX], (WEATHER_SPEC,), []),
        # No search tool: Claude could never load it, so it is offered, and named as not applied.
        ([WEATHER, DEFERRED], (WEATHER_SPEC, LATER_SPEC), ["tools[1].defer_loading"]),
    ],
)
def test_tool_search_defers_what_the_client_defers(tools, specs, ignored):
    assert turn_of(tools=tools).tools == specs
    assert t.ignored_parameters(request_of(tools=tools)) == ignored


def test_an_anthropic_defined_tool_can_be_deferred():
    bash = {"type": "bash_20250124", "name": "bash"}
    (offered,) = turn_of(tools=[bash]).tools
    assert turn_of(tools=[{**bash, "defer_loading": True}, REGEX]).tools == (replace(offered, deferred=True),)


@pytest.mark.parametrize(
    "extra, field, value",
    [
        ({"stop_sequences": ["END", "", "STOP"]}, "stop", ["END", "STOP"]),
        ({}, "stop", []),
        ({"metadata": {"user_id": "u-1"}}, "user", "u-1"),
        ({}, "user", None),
        ({"max_tokens": 50}, "max_output_tokens", 50),
        ({"max_tokens": 10**9}, "max_output_tokens", 128_000),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            "thinking",
            {"type": "enabled", "budget_tokens": 2048},
        ),
        ({"thinking": {"type": "adaptive"}}, "thinking", {"type": "adaptive"}),
        ({"thinking": {"type": "disabled"}}, "thinking", {"type": "disabled"}),
        ({}, "thinking", None),
        ({}, "effort", None),
        ({}, "output_schema", None),
    ],
)
def test_parameters_that_reach_the_turn(extra, field, value):
    assert getattr(turn_of(**extra), field) == value


def test_the_turn_names_its_model_tenant_and_request():
    turn = turn_of()
    assert (turn.model, turn.tenant, turn.request_id) == ("sonnet", "tenant", "id")


@pytest.mark.parametrize(
    "messages, param, code",
    [
        ([{"role": "user", "content": "  "}], "messages[0].content", "empty_content"),
        ([{"role": "user", "content": []}], "messages[0].content", "empty_content"),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "messages", "invalid_last_message"),
        ([{"role": "assistant", "content": "b"}], "messages", "invalid_last_message"),
        (
            [
                {
                    "role": "user",
                    "content": [text("x"), {"type": "image", "source": {"type": "url", "url": "ftp://x/a"}}],
                }
            ],
            "messages[0].content[1].source.url",
            "invalid_image_url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}
                    ],
                }
            ],
            "messages[0].content[0].source.media_type",
            "invalid_image_format",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "!"}}
                    ],
                }
            ],
            "messages[0].content[0].source.data",
            "invalid_image_url",
        ),
    ],
)
def test_requests_the_gateway_cannot_serve_are_400_naming_the_parameter(messages, param, code):
    with pytest.raises(GatewayError) as caught:
        turn_of(messages)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, param, code)


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "sonnet", "messages": USER}, "max_tokens"),
        ({"model": "sonnet", "max_tokens": 0, "messages": USER}, "max_tokens"),
        ({"model": "sonnet", "max_tokens": 1, "messages": []}, "messages"),
        ({"model": "sonnet", "max_tokens": 1, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"model": "sonnet", "max_tokens": 1, "messages": USER, "temperature": 2}, "temperature"),
        ({"model": "sonnet", "max_tokens": 1, "messages": USER, "session_id": "a b"}, "session_id"),
        (
            {"model": "sonnet", "max_tokens": 1, "messages": USER, "tools": [{"name": "a b", "input_schema": {}}]},
            "tools[0].name",
        ),
    ],
)
def test_invalid_requests_name_the_parameter(body, param):
    with pytest.raises(GatewayError) as caught:
        parse(MessagesRequest, body)
    assert (caught.value.status, caught.value.param) == (400, param)


@pytest.mark.parametrize(
    "extra, ignored",
    [
        ({}, []),
        ({"temperature": 0.2, "top_p": 0.5, "top_k": 3}, ["temperature", "top_p", "top_k"]),
        ({"max_tokens": 200_000}, ["max_tokens"]),
        ({"tools": [WEATHER], "tool_choice": {"type": "any"}}, []),  # enforced (engine/turns/forcing.py)
        ({"tools": [WEATHER], "tool_choice": {"type": "auto"}}, []),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
            ["tool_choice.disable_parallel_tool_use"],
        ),
        ({"stop_sequences": ["x"], "metadata": {"user_id": "u"}}, []),  # applied
        ({"frobnicate": 1, "another": 2}, ["another", "frobnicate"]),  # unknown fields, said so
    ],
)
def test_ignored_parameters_are_named(extra, ignored):
    assert t.ignored_parameters(request_of(**extra)) == ignored


# --- events -> whole message ------------------------------------------------------------------------
def message(*events):
    return t_out.message(list(events), "msg_1", "sonnet")


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("stop", "end_turn"),
        ("stop_sequence", "stop_sequence"),
        ("length", "max_tokens"),
        ("tool_use", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_stop_reasons(reason, expected):
    assert message(TextDelta("x"), Finish(reason))["stop_reason"] == expected


def test_a_message_with_thinking_text_and_usage():
    usage = Usage(input_tokens=10, output_tokens=4, cache_read_input_tokens=100, cache_creation_input_tokens=6)
    whole = message(ThinkingDelta("h"), ThinkingDelta("m"), TextDelta("Hel"), TextDelta("lo"), Finish("stop", usage))
    assert whole == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "sonnet",
        "content": [{"type": "thinking", "thinking": "hm", "signature": ""}, text("Hello")],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 4,
            "cache_creation_input_tokens": 6,
            "cache_read_input_tokens": 100,
        },
    }


def test_a_message_with_tool_calls():
    whole = message(
        TextDelta("Looking."),
        ToolCallStart(0, "toolu_1", "get"),
        ToolCallDelta(0, '{"city":'),
        ToolCallDelta(0, ' "Oslo"}'),
        ToolCallStart(1, "toolu_2", "get"),
        ToolCallDelta(1, "{}"),
        Finish("tool_use"),
    )
    assert whole["content"] == [
        text("Looking."),
        tool_use("toolu_1"),
        {"type": "tool_use", "id": "toolu_2", "name": "get", "input": {}},
    ]
    assert whole["stop_reason"] == "tool_use"


def test_arguments_cut_off_by_max_tokens_keep_what_was_complete():
    whole = message(
        ToolCallStart(0, "toolu_1", "get"), ToolCallDelta(0, '{"city": "Oslo", "unit": "ce'), Finish("length")
    )
    assert whole["content"] == [tool_use("toolu_1")] and whole["stop_reason"] == "max_tokens"


def test_the_stop_sequence_is_named():
    whole = message(TextDelta("a"), Finish("stop_sequence", stop_sequence="END"))
    assert (whole["stop_reason"], whole["stop_sequence"]) == ("stop_sequence", "END")


def test_a_restart_voids_the_broken_attempt():
    whole = message(
        ThinkingDelta("old"),
        TextDelta("broken "),
        ToolCallStart(0, "t", "f"),
        Restart(),
        TextDelta("whole"),
        Finish("stop"),
    )
    assert whole["content"] == [text("whole")]


def test_blank_deltas_make_no_block():
    whole = message(ThinkingDelta(""), TextDelta(""), TextDelta("x"), Finish("stop"))
    assert whole["content"] == [text("x")]


def test_a_message_without_events_is_empty():
    whole = message()
    assert (whole["content"], whole["stop_reason"]) == ([], "end_turn")


# --- events -> stream -------------------------------------------------------------------------------
def parsed(frames: list[str]) -> list[tuple[str, dict]]:
    out = []
    for frame in frames:
        assert frame.endswith("\n\n")
        name, data = frame.removesuffix("\n\n").split("\n")
        event = name.removeprefix("event: ")
        payload = json.loads(data.removeprefix("data: "))
        assert payload["type"] == event or event == "error"
        out.append((event, payload))
    return out


def stream(*events) -> list[tuple[str, dict]]:
    writer = t_out.EventStream("msg_1", "sonnet")
    frames = writer.opening()
    for event in events:
        frames += writer.frames(event)
    return parsed(frames + writer.closing())


def test_a_stream_opens_with_the_message_and_a_ping():
    (start, ping) = stream()
    assert start == (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "sonnet",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )
    assert ping == ("ping", {"type": "ping"})


def test_a_streamed_answer_with_thinking_text_and_a_tool_call():
    frames = stream(
        ThinkingDelta("hm"),
        ThinkingDelta(""),
        TextDelta("Hel"),
        TextDelta(""),
        TextDelta("lo"),
        ToolCallStart(0, "toolu_1", "get"),
        ToolCallDelta(0, '{"city":'),
        ToolCallDelta(0, ""),
        ToolCallDelta(0, ' "Oslo"}'),
        Finish("tool_use", Usage(3, 2)),
    )[2:]
    assert frames == [
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": text("")}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": ' "Oslo"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {
                    "input_tokens": 3,
                    "output_tokens": 2,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_two_tool_calls_are_two_blocks():
    frames = stream(ToolCallStart(0, "a", "f"), ToolCallDelta(0, "{}"), ToolCallStart(1, "b", "g"), Finish("tool_use"))
    starts = [(p["index"], p["content_block"]["id"]) for name, p in frames if name == "content_block_start"]
    stops = [p["index"] for name, p in frames if name == "content_block_stop"]
    assert (starts, stops) == ([(0, "a"), (1, "b")], [0, 1])


@pytest.mark.parametrize(
    "finish, delta",
    [
        (Finish("stop"), {"stop_reason": "end_turn", "stop_sequence": None}),
        (Finish("length"), {"stop_reason": "max_tokens", "stop_sequence": None}),
        (Finish("stop_sequence", stop_sequence="END"), {"stop_reason": "stop_sequence", "stop_sequence": "END"}),
    ],
)
def test_the_stream_ends_with_the_stop_reason(finish, delta):
    frames = stream(TextDelta("x"), finish)
    assert [name for name, _ in frames[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert frames[-2][1]["delta"] == delta


def test_a_restart_mid_stream_fails_the_stream():
    writer = t_out.EventStream("msg_1", "sonnet")
    writer.frames(TextDelta("x"))
    with pytest.raises(GatewayError) as caught:
        writer.frames(Restart())
    assert (caught.value.status, caught.value.code) == (502, "upstream_stream_interrupted")


def test_a_failure_is_an_error_event_in_anthropics_envelope():
    writer = t_out.EventStream("msg_1", "sonnet")
    (frame,) = parsed(writer.failure(GatewayError(503, "Overloaded", "overloaded_error")))
    assert frame == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def test_system_messages_in_messages_join_the_system_prompt_in_order():
    """As Claude Code sends its environment: `role: "system"` between the others (claude_code.py)."""
    messages = [
        {"role": "system", "content": "first"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "third"}]},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    turn = turn_of(messages, system="top")
    assert turn.system == "top\n\nfirst\n\nsecond\n\nthird"
    assert [m.role for m in turn.messages] == ["user", "assistant", "user"]


def test_only_system_messages_are_a_400_naming_messages():
    with pytest.raises(GatewayError) as caught:
        turn_of([{"role": "system", "content": "x"}])
    assert (caught.value.status, caught.value.param) == (400, "messages")
