"""Cutting the answer at stop strings, whatever the delta boundaries."""

from __future__ import annotations

import pytest

from app.core.events import Finish, Restart, TextDelta, ThinkingDelta, ToolCallStart, ToolResult, ToolUse, Usage
from app.engine.reading.stops import StopScanner


def run(stops, deltas, finish=True):
    scanner = StopScanner(stops)
    out = []
    for text in deltas:
        out += scanner.filter(TextDelta(text), Usage(), None)
        if scanner.hit:
            break
    else:
        if finish:
            out += scanner.filter(Finish("stop"), Usage(), None)
    text = "".join(e.text for e in out if isinstance(e, TextDelta))
    return text, scanner.hit, out[-1]


@pytest.mark.parametrize(
    "stops, deltas, text, hit",
    [
        (["END"], ["hello END more"], "hello ", "END"),
        (["END"], ["hel", "lo E", "N", "D more"], "hello ", "END"),  # across deltas
        (["END"], ["no stop here"], "no stop here", None),
        (["E", "END"], ["abcENDx"], "abc", "E"),  # the earliest match wins
        (["\n\n", "Observation:"], ["Thought: x\nObs", "ervation: y"], "Thought: x\n", "Observation:"),
        (["x"], ["x at once"], "", "x"),
    ],
)
def test_stops(stops, deltas, text, hit):
    got, got_hit, last = run(stops, deltas)
    assert (got, got_hit) == (text, hit)
    if hit:
        assert isinstance(last, Finish) and last.reason == "stop_sequence" and last.stop_sequence == hit
        assert last.message.content == ([{"type": "text", "text": text}] if text.strip() else [])


def test_text_held_back_is_released_at_the_end():
    scanner = StopScanner(["STOP"])
    assert scanner.filter(TextDelta("abcdef"), Usage(), None) == [TextDelta("abc")]
    assert scanner.filter(Finish("stop"), Usage(), None)[0] == TextDelta("def")


@pytest.mark.parametrize(
    "event", [ToolUse("t1", "Bash", {"command": "ls"}), ToolCallStart(0, "c1", "get"), ThinkingDelta("hm")]
)
def test_text_held_back_goes_out_before_what_comes_after_it(event):
    scanner = StopScanner(["STOP"])
    assert scanner.filter(TextDelta("Let me look."), Usage(), None) == [TextDelta("Let me lo")]
    assert scanner.filter(event, Usage(), None) == [TextDelta("ok."), event]
    assert scanner.filter(TextDelta("ST"), Usage(), None) == []  # a new text is scanned on its own
    assert scanner.filter(TextDelta("OP"), Usage(), None)[-1].stop_sequence == "STOP"


def test_a_restart_forgets_what_was_held():
    scanner = StopScanner(["STOP"])
    scanner.filter(TextDelta("abcST"), Usage(), None)
    assert scanner.filter(Restart(), Usage(), None) == [Restart()]
    assert scanner.filter(TextDelta("OP"), Usage(), None) == []  # "ST" + "OP" no longer joins
    assert scanner.hit is None


@pytest.mark.parametrize(
    "stops, text",
    [
        (["abcdef", "cd"], "xxabcdefyy"),  # a longer string starting earlier ends later
        (["cd", "abcdef"], "xxabcdefyy"),
        (["bcd", "abcde", "d"], "zabcdez"),
        (["aa", "aaa"], "baaab"),
        (["Observation:", "ion"], "Thought: Observation: y"),
    ],
)
def test_overlapping_stops_cut_the_same_however_the_text_is_chunked(stops, text):
    """Every way of cutting the text into one, two or three deltas gives the same answer."""
    splits = [[text]]
    splits += [[text[:i], text[i:]] for i in range(1, len(text))]
    splits += [[text[:i], text[i:j], text[j:]] for i in range(1, len(text)) for j in range(i + 1, len(text))]
    results = {run(stops, deltas)[:2] for deltas in splits}
    assert len(results) == 1, results


def test_a_restart_after_a_tool_ran_keeps_the_text_before_its_result():
    scanner = StopScanner(["END"])
    use, result = ToolUse("t1", "Bash", {}), ToolResult("t1", "Bash", "ok")
    for event in [TextDelta("Look."), use, result, TextDelta("par"), Restart()]:
        scanner.filter(event, Usage(), None)
    finish = scanner.filter(TextDelta("Done END"), Usage(), None)[-1]
    assert finish.message.content == [{"type": "text", "text": "Look.Done "}]
