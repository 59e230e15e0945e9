"""Agent mode: the tools Claude Code runs itself reach the client as ToolUse and ToolResult events,
read from the SDK's own message objects as the CLI sends them; a run that ends at a limit of the
request's is an answer cut short, not a failure."""

from __future__ import annotations

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from app.core.errors import GatewayError
from app.core.events import (
    MAX_OUTPUT_CHARS,
    Finish,
    Restart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    ToolUse,
    full_length,
)
from app.engine.reading.reader import TurnReader


def stream(event: dict) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event)


def result(subtype: str = "success", **fields) -> ResultMessage:
    base = dict(
        duration_ms=1,
        duration_api_ms=1,
        is_error=subtype != "success",
        num_turns=3,
        session_id="sess-1",
        stop_reason="end_turn",
        usage={"input_tokens": 30, "output_tokens": 20},
        total_cost_usd=0.25,
    )
    return ResultMessage(subtype=subtype, **{**base, **fields})


def read(messages, reader: TurnReader | None = None) -> list:
    reader = reader or TurnReader(default_retry_after=9)
    return [event for message in messages for event in reader.feed(message)]


def assistant(*blocks, message_id: str = "m1", parent: str | None = None) -> AssistantMessage:
    return AssistantMessage(content=list(blocks), model="claude-x", message_id=message_id, parent_tool_use_id=parent)


def tool_result(tool_use_id: str, content, is_error: bool | None = None, parent: str | None = None) -> UserMessage:
    return UserMessage(content=[ToolResultBlock(tool_use_id, content, is_error)], parent_tool_use_id=parent)


def streamed_step(message_id: str, text: str, tool: ToolUseBlock | None) -> list:
    """One model call as the CLI streams it: deltas, then one assistant frame per content block."""
    frames = [
        stream({"type": "message_start", "message": {"id": message_id, "usage": {"input_tokens": 3}}}),
        stream({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        stream({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        assistant(TextBlock(text), message_id=message_id),
    ]
    if tool is not None:
        start = {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}
        frames += [
            stream({"type": "content_block_start", "index": 1, "content_block": start}),
            stream(
                {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
            ),
            assistant(tool, message_id=message_id),
        ]
    stop = "tool_use" if tool else "end_turn"
    return frames + [stream({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 5}})]


BASH = ToolUseBlock("toolu_1", "Bash", {"command": "ls -la"})


def test_a_streamed_agent_turn_reports_each_call_and_its_result_between_the_texts():
    events = read(
        [
            *streamed_step("m1", "Let me look.", BASH),
            tool_result("toolu_1", "a\nb\n"),
            *streamed_step("m2", "Two files.", None),
            result(),
        ]
    )
    assert events[:4] == [
        TextDelta("Let me look."),  # once: the assistant frame of a streamed text is not sent again
        ToolUse("toolu_1", "Bash", {"command": "ls -la"}),
        ToolResult("toolu_1", "Bash", "a\nb\n"),
        TextDelta("Two files."),
    ]
    finish = events[4]
    assert isinstance(finish, Finish) and finish.reason == "stop" and finish.limit is None
    assert finish.message.content == [
        {"type": "text", "text": "Let me look.\n\nTwo files."}
    ]  # its text, the steps apart
    assert (finish.claude_session, finish.total_cost_usd) == ("sess-1", 0.25)
    assert len(events) == 5


def test_an_unstreamed_message_gives_its_blocks_in_order():
    message = assistant(TextBlock("Reading."), ToolUseBlock("t1", "Read", {"file_path": "/w/a.py"}), TextBlock("x"))
    assert read([message]) == [
        TextDelta("Reading."),
        ToolUse("t1", "Read", {"file_path": "/w/a.py"}),
        TextDelta("x"),
    ]


@pytest.mark.parametrize(
    "name, server",
    [
        ("mcp__github__search_issues", "github"),
        ("mcp__my_db__query__v2", "my_db"),  # the tool's own name may hold "__"
        ("Bash", None),
        ("mcp__broken", None),
    ],
)
def test_an_mcp_tool_names_its_server(name, server):
    assert read([assistant(ToolUseBlock("t1", name, {"q": 1}))]) == [ToolUse("t1", name, {"q": 1}, server)]


def test_the_clients_functions_and_the_structured_output_tool_are_not_activity():
    client_call = ToolUseBlock("t1", "mcp__client__get_weather", {"city": "Oslo"})
    events = read([assistant(client_call), tool_result("t1", "sunny")])
    assert events == [ToolCallStart(0, "t1", "get_weather"), ToolCallDelta(0, '{"city": "Oslo"}')]
    reader = TurnReader(9, structured=True)
    structured = ToolUseBlock("t2", "StructuredOutput", {"a": 1})
    assert read([assistant(structured), tool_result("t2", "ok")], reader) == [TextDelta('{"a": 1}')]


def test_a_subagents_calls_are_reported_with_their_parent_and_its_text_is_not():
    task = ToolUseBlock("task_1", "Task", {"description": "Find tests", "prompt": "..."})
    events = read(
        [
            assistant(task),
            assistant(
                TextBlock("sub thinks aloud"), ToolUseBlock("t2", "Grep", {"pattern": "def test"}), parent="task_1"
            ),
            tool_result("t2", "3 matches", parent="task_1"),
            tool_result("task_1", [{"type": "text", "text": "Found 3."}]),
        ]
    )
    assert events == [
        ToolUse("task_1", "Task", task.input),
        ToolUse("t2", "Grep", {"pattern": "def test"}, parent="task_1"),
        ToolResult("t2", "Grep", "3 matches", parent="task_1"),
        ToolResult("task_1", "Task", "Found 3."),
    ]


def test_a_call_is_reported_once_and_so_is_its_result():
    frame = assistant(BASH)
    assert read([frame, frame, tool_result("toolu_1", "x"), tool_result("toolu_1", "x")]) == [
        ToolUse("toolu_1", "Bash", BASH.input),
        ToolResult("toolu_1", "Bash", "x"),
    ]


def test_results_of_calls_never_reported_are_not_reported():
    assert read([tool_result("toolu_unknown", "x"), UserMessage(content="a user text")]) == []


@pytest.mark.parametrize(
    "content, is_error, output",
    [
        ("plain", None, "plain"),
        (None, None, ""),
        (
            [{"type": "text", "text": "a"}, {"type": "image", "source": {}}, {"type": "text", "text": "b"}],
            None,
            "a\n[image]\nb",
        ),
        ("<tool_use_error>File does not exist.</tool_use_error>", True, "File does not exist."),
    ],
)
def test_a_results_output_is_its_text(content, is_error, output):
    events = read([assistant(BASH), tool_result("toolu_1", content, is_error)])
    assert events[1] == ToolResult("toolu_1", "Bash", output, bool(is_error))


def test_a_long_output_is_cut_and_says_how_long_it_was():
    events = read([assistant(BASH), tool_result("toolu_1", "x" * 12_345)])
    output = events[1].output
    assert output == "x" * MAX_OUTPUT_CHARS + "… (12,345 characters)"
    assert full_length(output) == 12_345 and full_length("x" * 10) is None


@pytest.mark.parametrize(
    "subtype, limit", [("error_max_turns", "max_turns"), ("error_max_budget_usd", "max_budget_usd")]
)
def test_a_run_that_reaches_a_limit_ends_the_answer_cut_short(subtype, limit):
    reader = TurnReader(9)
    events = read([*streamed_step("m1", "Working.", BASH), tool_result("toolu_1", "ok"), result(subtype)], reader)
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert (finish.reason, finish.limit, finish.total_cost_usd, finish.claude_session) == (
        "length",
        limit,
        0.25,
        "sess-1",
    )
    assert finish.message.content == [{"type": "text", "text": "Working."}]
    assert reader.finished and reader.completed_cleanly


def test_other_error_results_still_fail():
    with pytest.raises(GatewayError):
        read([result("error_during_execution")])


BROKE_OFF = stream({"type": "message_stop"})  # a model call's stream that ended without a stop reason


def test_a_break_off_after_a_tool_ran_voids_only_the_call_that_broke_off():
    reader = TurnReader(9)
    step = streamed_step("m2", "par", None)[:3]  # its message_start, a text block, one delta
    events = read(
        [*streamed_step("m1", "Let me look.", BASH), tool_result("toolu_1", "ok"), *step, BROKE_OFF],
        reader,
    )
    assert events[-2:] == [TextDelta("par"), Restart()]
    events = read([*streamed_step("m3", "Done.", None), result()], reader)
    assert events[-1].message.content == [{"type": "text", "text": "Let me look.\n\nDone."}]


def test_a_break_off_before_the_next_call_said_anything_voids_nothing():
    reader = TurnReader(9)
    start = stream({"type": "message_start", "message": {"id": "m2", "usage": {}}})
    events = read([*streamed_step("m1", "Let me look.", BASH), tool_result("toolu_1", "ok"), start, BROKE_OFF], reader)
    assert Restart() not in events
