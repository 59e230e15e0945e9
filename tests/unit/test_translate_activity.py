"""Agent mode on every door: the tools Claude Code ran reach the client in the door's own shape, whole
and streamed alike, in order with the text; a run that reached a limit says which; and an answer
the client sends back with that activity in it reaches Claude as the gateway remembered it."""

from __future__ import annotations

import pytest

from app.core.bodies import parse
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolResult, ToolUse, Usage
from app.core.messages import Message, answer_message
from app.dialects import activity
from app.dialects.answer import Answer
from app.dialects.anthropic_messages import inbound as anthropic_messages
from app.dialects.anthropic_messages import outbound as anthropic_messages_out
from app.dialects.anthropic_messages.wire import MessagesRequest
from app.dialects.openai_chat import inbound as openai_chat
from app.dialects.openai_chat import outbound as openai_chat_out
from app.dialects.openai_chat.wire import ChatCompletionRequest
from app.dialects.openai_responses import inbound as openai_responses
from app.dialects.openai_responses import outbound as responses_out
from app.dialects.openai_responses.wire import ResponsesRequest
from tests.unit.translate_helpers import text, written

BASH = ToolUse("toolu_1", "Bash", {"command": "ls -la"})
BASH_OUT = ToolResult("toolu_1", "Bash", "a.py\nb.py\n")
SEARCH = ToolUse("toolu_2", "mcp__github__search_issues", {"q": "bug"}, server="github")
SEARCH_FAILED = ToolResult("toolu_2", SEARCH.name, "rate limited\nretry later", is_error=True, server="github")
EVENTS = [
    ThinkingDelta("Plan."),
    TextDelta("Let me look."),
    BASH,
    BASH_OUT,
    SEARCH,
    SEARCH_FAILED,
    TextDelta("Two files."),
    Finish("stop", Usage(3, 2)),
]
ANSWER = answer_message("Let me look.\n\nTwo files.")  # what the reader remembers of that answer
LIMITED = [TextDelta("Working."), BASH, BASH_OUT, Finish("length", Usage(3, 2), limit="max_turns")]


# --- the fold ---------------------------------------------------------------------------------------
def test_a_call_and_its_result_are_one_part_in_order_with_the_text():
    answer = Answer.of(EVENTS)
    assert [part.kind for part in answer.parts] == ["thinking", "text", "tool", "tool", "text"]
    assert [(p.use, p.result) for p in answer.parts if p.kind == "tool"] == [(BASH, BASH_OUT), (SEARCH, SEARCH_FAILED)]
    assert answer.text == "Let me look.\n\nTwo files."  # the steps apart


def test_a_result_of_no_reported_call_changes_nothing():
    assert Answer.of([ToolResult("nope", "Bash", "x")]).parts == []


def test_a_restart_voids_what_came_since_the_last_tool_result():
    answer = Answer.of([TextDelta("a"), BASH, BASH_OUT, TextDelta("par"), SEARCH, Restart(), TextDelta("b")])
    assert [(p.kind, p.text) for p in answer.parts] == [("text", "a"), ("tool", ""), ("text", "b")]
    assert Answer.of([BASH, Restart(), BASH_OUT]).parts == []  # a call that never ran is void, its result too


# --- Chat Completions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event, line",
    [
        (BASH, "▶ Bash: ls -la\n"),
        (ToolUse("t", "Bash", {"command": "cd /w &&\n  make   test"}), "▶ Bash: cd /w && make test\n"),
        (ToolUse("t", "Read", {"file_path": "/w/a.py", "limit": 5}), "▶ Read: /w/a.py\n"),
        (ToolUse("t", "NotebookEdit", {"notebook_path": "/w/n.ipynb"}), "▶ NotebookEdit: /w/n.ipynb\n"),
        (ToolUse("t", "Grep", {"pattern": "def test", "path": "/w"}), "▶ Grep: def test\n"),
        (ToolUse("t", "Task", {"description": "Find tests", "prompt": "long"}), "▶ Task: Find tests\n"),
        (SEARCH, '▶ github.search_issues {"q":"bug"}\n'),
        (
            ToolUse("t", "mcp__db__query", {"sql": "x" * 200}, server="db"),
            '▶ db.query {"sql":"' + "x" * 111 + "…\n",  # 120 characters of input
        ),
        (ToolUse("t", "TodoWrite", {"todos": []}), '▶ TodoWrite {"todos":[]}\n'),
        (ToolUse("t", "Read", {"file_path": "/w/b.py"}, parent="task_1"), "  ▶ Read: /w/b.py\n"),  # a subagent's
        (BASH_OUT, "◀ 2 lines\n"),
        (ToolResult("t", "Bash", "one"), "◀ 1 line\n"),
        (ToolResult("t", "Bash", ""), "◀ no output\n"),
        (SEARCH_FAILED, "◀ error: rate limited\n"),
        (ToolResult("t", "Read", "x" * 4096 + "… (12,345 characters)"), "◀ 12,345 characters\n"),
        (ToolResult("t", "Read", "x", parent="task_1"), "  ◀ 1 line\n"),
    ],
)
def test_each_call_and_result_is_a_readable_line(event, line):
    assert activity.chat_line(event) == line


def chat_message(events) -> dict:
    return openai_chat_out.completion([events], "chatcmpl-1", 1, "sonnet")["choices"][0]["message"]


EXPECTED_REASONING = (
    "Plan.\n▶ Bash: ls -la\n◀ 2 lines\n" + '▶ github.search_issues {"q":"bug"}\n' + "◀ error: rate limited\n"
)
EXPECTED_EVENTS = [
    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls -la"}},
    {"type": "tool_result", "tool_use_id": "toolu_1", "name": "Bash", "output": "a.py\nb.py\n", "is_error": False},
    {"type": "tool_use", "id": "toolu_2", "name": SEARCH.name, "input": {"q": "bug"}, "server": "github"},
    {
        "type": "tool_result",
        "tool_use_id": "toolu_2",
        "name": SEARCH.name,
        "output": "rate limited\nretry later",
        "is_error": True,
        "server": "github",
    },
]


def test_a_whole_chat_message_shows_the_activity_in_its_reasoning_and_as_events():
    message = chat_message(EVENTS)
    assert message["content"] == "Let me look.\n\nTwo files."
    assert message["reasoning_content"] == EXPECTED_REASONING
    assert message["claude_code_events"] == EXPECTED_EVENTS


def test_a_chat_message_without_activity_has_no_events_field():
    assert "claude_code_events" not in chat_message([TextDelta("x"), Finish("stop")])


def chat_chunks(events) -> list[dict]:
    writer = openai_chat_out.ChunkStream("chatcmpl-1", 1, "sonnet", include_usage=False)
    return written(writer, [(0, event) for event in events])


def test_a_chat_stream_carries_the_same_lines_and_events_as_they_happen():
    chunks = chat_chunks(EVENTS)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == EXPECTED_REASONING
    assert [d["claude_code_event"] for d in deltas if "claude_code_event" in d] == EXPECTED_EVENTS
    assert deltas[3] == {"reasoning_content": "\n▶ Bash: ls -la\n", "claude_code_event": EXPECTED_EVENTS[0]}
    assert all("claude_code_limit" not in c for c in chunks)


def test_a_run_at_its_limit_is_cut_short_and_names_the_limit_on_chat():
    whole = openai_chat_out.completion([LIMITED], "chatcmpl-1", 1, "sonnet")
    assert (whole["choices"][0]["finish_reason"], whole["claude_code_limit"]) == ("length", "max_turns")
    last = chat_chunks(LIMITED)[-1]
    assert (last["choices"][0]["finish_reason"], last["claude_code_limit"]) == ("length", "max_turns")
    assert "claude_code_limit" not in openai_chat_out.completion([[Finish("length")]], "c", 1, "m")


# --- Anthropic Messages ------------------------------------------------------------------------------
EXPECTED_BLOCKS = [
    {"type": "thinking", "thinking": "Plan.", "signature": ""},
    text("Let me look."),
    {"type": "mcp_tool_use", "id": "toolu_1", "name": "Bash", "server_name": "claude_code", "input": BASH.input},
    {"type": "mcp_tool_result", "tool_use_id": "toolu_1", "is_error": False, "content": [text("a.py\nb.py\n")]},
    {"type": "mcp_tool_use", "id": "toolu_2", "name": "search_issues", "server_name": "github", "input": {"q": "bug"}},
    {
        "type": "mcp_tool_result",
        "tool_use_id": "toolu_2",
        "is_error": True,
        "content": [text("rate limited\nretry later")],
    },
    text("Two files."),
]


def test_a_whole_anthropic_message_holds_mcp_connector_blocks_in_order():
    whole = anthropic_messages_out.message(EVENTS, "msg_1", "sonnet")
    assert whole["content"] == EXPECTED_BLOCKS
    assert (whole["stop_reason"], "claude_code_limit" in whole) == ("end_turn", False)


def anthropic_stream(events) -> list[dict]:
    return written(anthropic_messages_out.EventStream("msg_1", "sonnet"), events)


def test_an_anthropic_stream_gives_each_block_its_own_index_and_adds_up_to_the_whole():
    content: list[dict] = []
    open_blocks: set[int] = set()
    for event in anthropic_stream(EVENTS):
        if event["type"] == "content_block_start":
            assert event["index"] == len(content) and not open_blocks  # one block at a time, in order
            content.append(dict(event["content_block"]))
            open_blocks.add(event["index"])
        elif event["type"] == "content_block_delta":
            delta, block = event["delta"], content[event["index"]]
            key = "text" if delta["type"] == "text_delta" else "thinking"
            block[key] += delta[key]
        elif event["type"] == "content_block_stop":
            open_blocks.remove(event["index"])
    assert content == EXPECTED_BLOCKS and not open_blocks


def test_a_subagents_call_names_its_parent_on_anthropic():
    call = ToolUse("t2", "Read", {"file_path": "/w"}, parent="task_1")
    assert activity.mcp_block(call)["parent_tool_use_id"] == "task_1"


def test_a_run_at_its_limit_pauses_and_names_the_limit_on_anthropic():
    whole = anthropic_messages_out.message(LIMITED, "msg_1", "sonnet")
    assert (whole["stop_reason"], whole["claude_code_limit"]) == ("pause_turn", "max_turns")
    delta = [e for e in anthropic_stream(LIMITED) if e["type"] == "message_delta"][0]["delta"]
    assert delta == {"stop_reason": "pause_turn", "stop_sequence": None, "claude_code_limit": "max_turns"}


# --- Responses ---------------------------------------------------------------------------------------
def builder() -> responses_out.ResponseBuilder:
    return responses_out.ResponseBuilder("resp_1", 7, parse(ResponsesRequest, {"model": "sonnet", "input": "hi"}))


def stream_response(events) -> list[dict]:
    return written(builder(), events)


EXPECTED_CALLS = [
    {
        "type": "mcp_call",
        "id": "toolu_1",
        "server_label": "claude_code",  # a built-in tool
        "name": "Bash",
        "arguments": '{"command": "ls -la"}',
        "output": "a.py\nb.py\n",
        "error": None,
        "status": "completed",
    },
    {
        "type": "mcp_call",
        "id": "toolu_2",
        "server_label": "github",
        "name": "search_issues",
        "arguments": '{"q": "bug"}',
        "output": None,
        "error": {"type": "mcp_tool_execution_error", "content": [text("rate limited\nretry later")]},
        "status": "failed",
    },
]


def test_a_whole_response_has_an_item_per_tool_with_its_result():
    output = responses_out.build(EVENTS, builder())["output"]
    assert [item["type"] for item in output] == ["reasoning", "message", "mcp_call", "mcp_call", "message"]
    assert output[2:4] == EXPECTED_CALLS


def test_a_responses_stream_adds_a_tool_item_at_its_call_and_ends_it_at_its_result():
    events = stream_response(EVENTS)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]["output"]
    tool_events = [
        e for e in events if e["type"].startswith("response.output_item") and e["item"]["type"] == "mcp_call"
    ]
    assert [(e["type"], e["output_index"], e["item"]["status"]) for e in tool_events] == [
        ("response.output_item.added", 2, "in_progress"),
        ("response.output_item.done", 2, "completed"),
        ("response.output_item.added", 3, "in_progress"),
        ("response.output_item.done", 3, "failed"),
    ]
    assert tool_events[0]["item"] == {**EXPECTED_CALLS[0], "output": None, "status": "in_progress"}
    assert all(e["item"] == final[e["output_index"]] for e in events if e["type"] == "response.output_item.done")


def test_a_tool_without_a_result_when_the_response_ends_is_incomplete():
    events = stream_response([BASH, Finish("stop")])
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["item"]["status"] for e in done] == ["incomplete"]
    assert events[-1]["response"]["output"][0]["status"] == "incomplete"


def test_a_run_at_its_limit_is_an_incomplete_response_naming_the_limit():
    whole = responses_out.build(LIMITED, builder())
    assert (whole["status"], whole["incomplete_details"]) == ("incomplete", {"reason": "max_turns"})
    assert stream_response(LIMITED)[-1]["type"] == "response.incomplete"


def test_a_subagents_call_names_its_parent_on_responses():
    answer = Answer.of([ToolUse("t2", "Read", {}, parent="task_1")])
    assert activity.responses_item(answer.parts[0], finished=False)["parent_tool_use_id"] == "task_1"


# --- sent back: never passed on, and the answer is the one the gateway remembers ---------------------
def test_a_chat_answer_sent_back_with_its_activity_is_the_remembered_answer():
    message = {"role": "assistant", **chat_message(EVENTS)}
    request = parse(ChatCompletionRequest, {"model": "sonnet", "messages": [user("hi"), message, user("and?")]})
    assert openai_chat.to_turn(request, "sonnet", "t", "id").messages[1] == ANSWER


def test_an_anthropic_answer_sent_back_with_its_activity_is_the_remembered_answer():
    sent = {"role": "assistant", "content": anthropic_messages_out.message(EVENTS, "msg_1", "sonnet")["content"]}
    request = parse(MessagesRequest, {"model": "sonnet", "max_tokens": 9, "messages": [user("hi"), sent, user("and?")]})
    assert anthropic_messages.to_turn(request, "sonnet", "t", "id").messages[1] == ANSWER


def test_anthropic_activity_blocks_anywhere_are_left_out():
    server_tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}}
    result = {"type": "mcp_tool_result", "tool_use_id": "toolu_1", "is_error": False, "content": [text("x")]}
    messages = [user("hi"), {"role": "assistant", "content": [server_tool, text("A.")]}, user([result]), user("go")]
    request = parse(MessagesRequest, {"model": "sonnet", "max_tokens": 9, "messages": messages})
    assert anthropic_messages.to_turn(request, "sonnet", "t", "id").messages == [
        Message("user", [text("hi")]),
        Message("assistant", [text("A.")]),
        Message("user", [text("go")]),
    ]


def test_a_response_sent_back_as_input_items_with_its_activity_is_the_remembered_answer():
    output = responses_out.build(EVENTS, builder())["output"]
    request = parse(ResponsesRequest, {"model": "sonnet", "input": [user("hi"), *output, user("and?")]})
    turn = openai_responses.to_turn(request, "sonnet", "t", "id", [], None)
    assert turn.messages == [Message("user", [text("hi")]), ANSWER, Message("user", [text("and?")])]


def user(content) -> dict:
    return {"role": "user", "content": content}


def test_tool_items_sent_back_in_either_form_are_left_out():
    call = {"type": "claude_code_call", "id": "toolu_1", "call_id": "toolu_1", "name": "Bash", "arguments": "{}"}
    mcp = {"type": "mcp_call", "id": "toolu_2", "server_label": "x", "name": "y", "arguments": "{}", "output": "z"}
    request = parse(ResponsesRequest, {"model": "sonnet", "input": [user("hi"), call, mcp, user("go")]})
    assert openai_responses.to_turn(request, "sonnet", "t", "id", [], None).messages == [
        Message("user", [text("hi"), text("go")])
    ]
