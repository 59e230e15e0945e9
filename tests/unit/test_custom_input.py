"""A custom tool's raw input, read from Claude's JSON arguments as they stream (dialects/custom_tools.py):
whatever the pieces, what streams and what is left at the end add up to the whole input."""

from __future__ import annotations

import json

import pytest

from app.dialects.custom_tools import RawInput, raw_input

INPUTS = ['say "hi"\n\\done', "😀 é \u2028", "", "x" * 300]


def _streamed(arguments: str, size: int) -> tuple[str, str]:
    raw = RawInput()
    streamed = "".join(raw.feed(arguments[i : i + size]) for i in range(0, len(arguments), size))
    return streamed, raw.rest(arguments)


@pytest.mark.parametrize("size", [1, 2, 5, 7, 1000])
@pytest.mark.parametrize("text", INPUTS)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_every_cut_of_the_arguments_streams_the_input_whole(text, size, ascii_only):
    arguments = json.dumps({"input": text}, ensure_ascii=ascii_only)
    streamed, rest = _streamed(arguments, size)
    assert streamed + rest == text
    if size < len(arguments) and len(text) > 4:
        assert streamed  # it streamed as it came, not only at the end


def test_arguments_that_open_otherwise_stream_nothing_and_give_it_all_at_the_end():
    assert _streamed('{"note": 1, "input": "abc"}', 3) == ("", "abc")
    assert _streamed(json.dumps({"first": "x" * 400}), 3) == ("", "x" * 400)  # its one string
    assert raw_input('{"input": {"a": 1}}') == '{"a": 1}'
    assert raw_input('{"input": "cut sho') == "cut sho"  # max_tokens cut it: what came of it
