"""Reading Claude Code's messages: events, finish reasons, and failures that keep their meaning."""

from __future__ import annotations

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ProcessError,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from claude_agent_sdk._errors import CLINotFoundError, ResultError

from app.core.errors import GatewayError
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart
from app.engine.reading.failures import FailedTurn, sdk_exception_error, turn_error
from app.engine.reading.reader import TurnReader


def stream(event: dict) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event)


def result(**fields) -> ResultMessage:
    base = dict(
        subtype="success",
        duration_ms=1,
        duration_api_ms=1,
        is_error=False,
        num_turns=1,
        session_id="s",
        stop_reason="end_turn",
        usage={"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 1},
    )
    return ResultMessage(**{**base, **fields})


def read_all(messages) -> list:
    reader = TurnReader(default_retry_after=9)
    return [event for message in messages for event in reader.feed(message)]


def delta(kind: str, value: str) -> StreamEvent:
    key = {"text_delta": "text", "thinking_delta": "thinking"}[kind]
    return stream({"type": "content_block_delta", "index": 0, "delta": {"type": kind, key: value}})


START = stream({"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 3}}})


def test_streamed_turn_gives_deltas_then_finish_with_the_results_usage():
    events = read_all(
        [
            START,
            delta("thinking_delta", "hm"),
            delta("text_delta", "Hi"),
            delta("text_delta", "!"),
            AssistantMessage(content=[TextBlock("Hi!")], model="claude-x", message_id="m1"),  # already streamed
            stream({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            stream({"type": "message_stop"}),
            result(),
        ]
    )
    assert events[:3] == [ThinkingDelta("hm"), TextDelta("Hi"), TextDelta("!")]
    finish = events[3]
    assert isinstance(finish, Finish) and finish.reason == "stop" and finish.model == "claude-x"
    assert (finish.usage.input_tokens, finish.usage.output_tokens, finish.usage.prompt_tokens) == (3, 2, 9)


def test_an_assistant_message_that_was_not_streamed_is_emitted_whole():
    events = read_all(
        [
            AssistantMessage(content=[ThinkingBlock("t", "sig"), TextBlock("whole")], model="m", message_id="m9"),
            result(),
        ]
    )
    assert events[:2] == [ThinkingDelta("t"), TextDelta("whole")]


def test_max_tokens_ends_the_turn_at_once():
    reader = TurnReader(9)
    reader.feed(START)
    events = reader.feed(
        stream({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 8}})
    )
    assert reader.finished
    assert events[0].reason == "length" and events[0].usage.output_tokens == 8


def test_a_stream_that_broke_off_after_output_restarts():
    events = read_all([START, delta("text_delta", "par"), stream({"type": "message_stop"})])
    assert events == [TextDelta("par"), Restart()]
    assert read_all([START, stream({"type": "message_stop"})]) == []  # nothing sent yet: nothing to void


def test_subagent_output_is_not_the_answer():
    sub = StreamEvent(
        uuid="u",
        session_id="s",
        event={"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        parent_tool_use_id="toolu_1",
    )
    assert read_all([sub]) == []


@pytest.mark.parametrize(
    "failure, status, code, retry_after",
    [
        (FailedTurn("API Error: 429 Slow down", "rate_limit", 429), 429, "rate_limit_exceeded", "9"),
        (FailedTurn("API Error: 429", "rate_limit", 429, retry_after=42), 429, "rate_limit_exceeded", "42"),
        (
            FailedTurn("Not logged in · Please run /login", "authentication_failed"),
            503,
            "claude_credentials_missing",
            None,
        ),
        (FailedTurn("Invalid API key", "authentication_failed", 401), 502, "upstream_auth_failed", None),
        (FailedTurn("API Error: 500", "server_error", 500), 502, "upstream_error", None),
        (FailedTurn("API Error: 529 Overloaded", "server_error", 529), 503, "upstream_overloaded", "9"),
        (FailedTurn("API Error: 400 image too big", "invalid_request", 400), 400, "upstream_invalid_request", None),
        (FailedTurn("model: claude-nope", "invalid_request", 404), 404, "model_not_found", None),
        (FailedTurn("Prompt is too long", "invalid_request"), 400, "context_length_exceeded", None),
        (
            FailedTurn("Prompt is too long · the request is ~250000 tokens (limit 200000)", "invalid_request", 400),
            400,
            "context_length_exceeded",
            None,
        ),
        (
            FailedTurn(
                "Third-party apps now draw from your extra usage, not your plan limits.", "invalid_request", 400
            ),
            429,
            "insufficient_quota",
            "9",
        ),
        (FailedTurn("", None, None, "error_during_execution"), 502, "claude_error", None),
    ],
)
def test_failed_turns_keep_their_meaning(failure, status, code, retry_after):
    error = turn_error(failure, default_retry_after=9)
    assert (error.status, error.code) == (status, code)
    assert error.headers.get("Retry-After") == retry_after
    if failure.text and status < 500 or code == "upstream_auth_failed":
        assert failure.text in error.message  # Claude's own words reach the user when they must act


def test_missing_login_says_how_to_log_in():
    error = turn_error(FailedTurn("Not logged in · Please run /login", "authentication_failed"), 9)
    for way in ("claude login", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"):
        assert way in error.message


def test_error_result_raises_with_the_synthetic_assistant_text():
    messages = [
        AssistantMessage(content=[TextBlock("API Error: 429 rate limited")], model="<synthetic>", error="rate_limit"),
        result(is_error=True, api_error_status=429, result="API Error: 429 rate limited"),
    ]
    with pytest.raises(GatewayError) as caught:
        read_all(messages)
    assert caught.value.status == 429 and "rate limited" in caught.value.message


@pytest.mark.parametrize(
    "exc, status, code",
    [
        (ProcessError("Command failed", exit_code=3, stderr="boom"), 502, "claude_process_failed"),
        (CLINotFoundError("Claude Code not found", "/nope"), 503, "claude_cli_missing"),
        (
            ResultError("x", {"subtype": "success", "result": "API Error: 429", "api_error_status": 429}),
            429,
            "rate_limit_exceeded",
        ),
    ],
)
def test_sdk_exceptions(exc, status, code):
    error = sdk_exception_error(exc, "stderr tail", 9)
    assert (error.status, error.code) == (status, code)


def test_arguments_cut_by_max_tokens_are_remembered_as_far_as_they_are_complete():
    events = read_all(
        [
            START,
            stream(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": "t1", "name": "mcp__client__get_weather", "input": {}},
                }
            ),
            stream(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city": "Oslo", "days": [1, 2'},
                }
            ),
            stream({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 20}}),
        ]
    )
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "length"
    assert finish.message.content == [
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo", "days": [1, 2]}}
    ]


def block_start(block: dict) -> StreamEvent:
    return stream({"type": "content_block_start", "index": 0, "content_block": block})


def json_delta(text: str) -> StreamEvent:
    delta = {"type": "input_json_delta", "partial_json": text}
    return stream({"type": "content_block_delta", "index": 0, "delta": delta})


def test_with_an_output_schema_client_calls_still_end_the_answer_and_the_json_comes_last():
    # Claude calls the client's function (its text before the call is not the JSON answer), the
    # client's result comes, then Claude answers through Claude Code's structured-output tool.
    reader = TurnReader(9, structured=True)
    call = {"type": "tool_use", "id": "t1", "name": "mcp__client__get_weather", "input": {}}
    step = [
        START,
        delta("text_delta", "Let me check."),
        block_start(call),
        json_delta('{"city": "Oslo"}'),
        stream({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
    ]
    events = [event for message in step for event in reader.feed(message)]
    assert events[:2] == [ToolCallStart(0, "t1", "get_weather"), ToolCallDelta(0, '{"city": "Oslo"}')]
    assert isinstance(events[2], Finish) and events[2].reason == "tool_use" and reader.awaiting_tools

    reader.continue_after_tools()
    answer = [
        stream({"type": "message_start", "message": {"id": "m2", "usage": {"input_tokens": 3}}}),
        block_start({"type": "tool_use", "id": "t2", "name": "StructuredOutput", "input": {}}),
        json_delta('{"weather": "cold"}'),
        stream({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
        result(),
    ]
    events = [event for message in answer for event in reader.feed(message)]
    assert events[0] == TextDelta('{"weather": "cold"}')
    assert isinstance(events[1], Finish) and events[1].reason == "stop"
    assert events[1].message.content == [{"type": "text", "text": '{"weather": "cold"}'}]


def test_with_an_output_schema_an_unstreamed_client_call_is_still_a_call():
    reader = TurnReader(9, structured=True)
    message = AssistantMessage(
        content=[ToolUseBlock("t1", "mcp__client__get_weather", {"city": "Oslo"})], model="m", message_id="m9"
    )
    assert reader.feed(message) == [ToolCallStart(0, "t1", "get_weather"), ToolCallDelta(0, '{"city": "Oslo"}')]
    assert reader.unstreamed_calls_pending


def test_streamed_arguments_are_their_pieces_joined_however_often_they_are_read():
    reader = TurnReader(default_retry_after=9)
    tool = {"type": "tool_use", "id": "t1", "name": "mcp__client__f", "input": {}}
    reader.feed(START)
    reader.feed(stream({"type": "content_block_start", "index": 0, "content_block": tool}))
    pieces = ['{"a": "', *(f"{n}é" for n in range(500)), '"}']
    for n, piece in enumerate(pieces):
        reader.feed(
            stream(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
            )
        )
        if n in (0, 1, 250):
            assert reader.tool_calls[0][2] == "".join(pieces[: n + 1])
    assert reader.tool_calls[0][2] == "".join(pieces)
    assert reader.answer().content[-1]["input"] == {"a": "".join(f"{n}é" for n in range(500))}
