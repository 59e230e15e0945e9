"""The steps of one agent turn (text, a tool Claude Code ran, more text) stay apart on every door:
Chat Completions' one content string puts a blank line between the text before a tool ran and the
text after it, whole and streamed alike; Anthropic's text blocks and Responses' message items are
apart anyway and hold the text as said. An answer sent back is the answer the engine remembered
(the engine's side: tests/unit/test_engine_activity.py)."""

from __future__ import annotations

from app.core.bodies import parse
from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolResult, ToolUse, Usage
from app.core.messages import Message
from app.dialects.answer import Answer
from app.dialects.anthropic_messages import inbound as anthropic_messages
from app.dialects.anthropic_messages import outbound as anthropic_messages_out
from app.dialects.anthropic_messages.wire import MessagesRequest
from app.dialects.openai_chat import outbound as openai_chat_out
from app.dialects.openai_responses import outbound as responses_out
from tests.unit.test_translate_activity import builder, chat_chunks, chat_message, user
from tests.unit.translate_helpers import text, written

BASH = ToolUse("toolu_1", "Bash", {"command": "ls"})
BASH_OUT = ToolResult("toolu_1", "Bash", "a.py\nb.py\n")
STEPS = [
    TextDelta("Let me "),
    TextDelta("look."),
    BASH,
    BASH_OUT,
    TextDelta("Two "),
    TextDelta("files."),
    Finish("stop", Usage(3, 2)),
]


def streamed_content(events) -> str:
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chat_chunks(events))


def test_chat_puts_a_blank_line_between_the_steps_whole_and_streamed():
    assert chat_message(STEPS)["content"] == "Let me look.\n\nTwo files."
    assert streamed_content(STEPS) == "Let me look.\n\nTwo files."


def test_no_separator_where_no_text_came_before_the_tool_or_no_tool_ran_between():
    first_a_tool = [BASH, BASH_OUT, TextDelta("Two files."), Finish("stop")]
    thinking_between = [TextDelta("A."), ThinkingDelta("hm"), TextDelta("B."), Finish("stop")]
    blank_after_tool = [TextDelta("A."), BASH, BASH_OUT, TextDelta(""), Finish("stop")]
    for events, said in [(first_a_tool, "Two files."), (thinking_between, "A.B."), (blank_after_tool, "A.")]:
        assert chat_message(events)["content"] == streamed_content(events) == said


def test_each_choice_of_a_chat_stream_keeps_its_own_steps():
    writer = openai_chat_out.ChunkStream("chatcmpl-1", 1, "sonnet", include_usage=False)
    frames = [(1, BASH), (1, BASH_OUT), (0, TextDelta("A.")), (1, TextDelta("B.")), (0, BASH_OUT), (0, TextDelta("C."))]
    chunks = written(writer, frames)
    said: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            said[choice["index"]] = said.get(choice["index"], "") + (choice["delta"].get("content") or "")
    assert said == {0: "A.\n\nC.", 1: "B."}


def test_a_restart_after_a_tool_keeps_the_separator_once():
    events = [TextDelta("Let me look."), BASH, BASH_OUT, TextDelta("par"), Restart(), TextDelta("Done.")]
    assert Answer.of(events).text == "Let me look.\n\nDone."


def test_anthropic_and_responses_keep_the_steps_in_their_own_blocks_and_items():
    blocks = anthropic_messages_out.message(STEPS, "msg_1", "sonnet")["content"]
    assert [block["text"] for block in blocks if block["type"] == "text"] == ["Let me look.", "Two files."]
    output = responses_out.build(STEPS, builder())["output"]
    texts = [part["text"] for item in output if item["type"] == "message" for part in item["content"]]
    assert texts == ["Let me look.", "Two files."]


def test_an_anthropic_answer_whose_texts_only_thinking_parts_is_joined_as_said():
    thinking = {"type": "thinking", "thinking": "hm", "signature": "sig"}
    sent = {"role": "assistant", "content": [text("A."), thinking, text("B.")]}
    request = parse(MessagesRequest, {"model": "sonnet", "max_tokens": 9, "messages": [user("hi"), sent, user("go")]})
    assert anthropic_messages.to_turn(request, "sonnet", "t", "id").messages[1] == Message("assistant", [text("A.B.")])
