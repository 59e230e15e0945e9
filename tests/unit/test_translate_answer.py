"""The one fold of a turn's events into an answer, that every door renders."""

from __future__ import annotations

import pytest

from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart, Usage
from app.dialects.answer import Answer, random_id


def parts(answer: Answer) -> list[tuple]:
    return [(p.kind, p.text, p.call_id, p.name) for p in answer.parts]


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], []),
        ([TextDelta("Hel"), TextDelta("lo")], [("text", "Hello", "", "")]),
        (
            [ThinkingDelta("h"), ThinkingDelta("m"), TextDelta("a"), ThinkingDelta("again"), TextDelta("b")],
            [("thinking", "hm", "", ""), ("text", "a", "", ""), ("thinking", "again", "", ""), ("text", "b", "", "")],
        ),
        ([TextDelta(""), ThinkingDelta(""), TextDelta("x")], [("text", "x", "", "")]),  # blank deltas make no part
        ([ThinkingDelta("a"), TextDelta(""), ThinkingDelta("b")], [("thinking", "ab", "", "")]),
        (
            [
                TextDelta("Looking."),
                ToolCallStart(0, "c1", "get"),
                ToolCallDelta(0, '{"a":'),
                ToolCallDelta(0, "1}"),
                ToolCallStart(1, "c2", "put"),
                ToolCallDelta(1, "{}"),
            ],
            [("text", "Looking.", "", ""), ("tool_call", '{"a":1}', "c1", "get"), ("tool_call", "{}", "c2", "put")],
        ),
        ([ToolCallDelta(3, "{}")], []),  # arguments of a call that never started
        (
            [TextDelta("a"), ToolCallStart(0, "c", "f"), TextDelta("b")],
            [("text", "a", "", ""), ("tool_call", "", "c", "f"), ("text", "b", "", "")],
        ),
        ([TextDelta("broken"), ToolCallStart(0, "c", "f"), Restart(), TextDelta("whole")], [("text", "whole", "", "")]),
        ([ToolCallStart(0, "c", "f"), Restart(), ToolCallDelta(0, "{}")], []),  # the voided call takes no more
    ],
)
def test_the_fold(events, expected):
    assert parts(Answer.of(events)) == expected


def test_add_names_the_part_an_event_opened_or_added_to():
    answer = Answer()
    text = answer.add(TextDelta("a"))
    assert answer.add(TextDelta("b")) is text and text.text == "ab"
    call = answer.add(ToolCallStart(0, "c", "f"))
    assert call is not text and answer.add(ToolCallDelta(0, "{}")) is call
    assert [answer.add(e) for e in (TextDelta(""), ToolCallDelta(0, ""), Finish("stop"), Restart())] == [None] * 4


def test_text_and_tool_calls_read_across_parts():
    answer = Answer.of(
        [ThinkingDelta("t1"), TextDelta("a"), ThinkingDelta("t2"), TextDelta("b"), ToolCallStart(0, "c", "f")]
    )
    assert (answer.text, [p.call_id for p in answer.tool_calls]) == ("ab", ["c"])


def test_the_ending_is_the_finish_or_a_plain_stop():
    assert (Answer().finish, Answer().ending) == (None, Finish("stop"))
    finish = Finish("length", Usage(1, 2))
    answer = Answer.of([TextDelta("x"), finish])
    assert answer.finish is finish and answer.ending is finish


def test_every_part_has_its_own_key():
    answer = Answer.of([ThinkingDelta("t"), TextDelta("a"), ToolCallStart(0, "c", "f")])
    keys = {p.key for p in answer.parts}
    assert len(keys) == 3 and all(len(k) == 24 for k in keys)
    assert random_id("msg_").startswith("msg_") and len(random_id("msg_")) == 28


def test_a_parts_text_is_its_pieces_joined_however_often_it_is_read():
    answer = Answer()
    pieces = [f"{n}é\n" for n in range(1000)]
    for n, piece in enumerate(pieces):
        answer.add(TextDelta(piece))
        if n in (0, 1, 500):
            assert answer.text == "".join(pieces[: n + 1])
    answer.add(ToolCallStart(0, "call_1", "f"))
    for piece in ['{"a"', ": 1", "}"]:
        answer.add(ToolCallDelta(0, piece))
    assert answer.text == "".join(pieces)
    assert [call.text for call in answer.tool_calls] == ['{"a": 1}']
