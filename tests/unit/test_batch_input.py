"""An OpenAI batch's input file is read as JSONL: one request per "\n"-ended line, whatever the
JSON strings in it hold, a UTF-8 byte-order mark (as some editors write) ignored."""

from __future__ import annotations

import json

from app.batches.model import CHAT
from app.batches.openai import read_input


def line(custom_id: str, text: str) -> str:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": text}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body}, ensure_ascii=False)


def test_a_line_separator_inside_a_json_string_does_not_split_its_line():
    data = "\n".join([line("a", "one\u2028two\u2029three\x85four"), line("b", "plain")]).encode()
    requests, errors = read_input(data, CHAT, 100)
    assert errors == []
    assert [r.custom_id for r in requests] == ["a", "b"]
    assert requests[0].params["messages"][0]["content"] == "one\u2028two\u2029three\x85four"


def test_a_byte_order_mark_and_crlf_line_ends_are_read():
    data = ("\ufeff" + line("a", "x") + "\r\n" + line("b", "y") + "\r\n").encode()
    requests, errors = read_input(data, CHAT, 100)
    assert errors == []
    assert [r.custom_id for r in requests] == ["a", "b"]


def test_reading_stops_past_the_most_requests_or_errors(monkeypatch):
    """A file that fails anyway is not parsed to its end: past `most` requests, or at MAX_ERRORS
    errors (a 32 MB file was parsed whole, and `too_many_requests` was cut off behind 100 others)."""
    from app.batches import openai

    parsed = 0
    real = openai._line_problem

    def counting(*args):
        nonlocal parsed
        parsed += 1
        return real(*args)

    monkeypatch.setattr(openai, "_line_problem", counting)
    text = "\n".join([line(f"r{i}", "x") for i in range(5)] + ["not json"] * 10_000)
    requests, errors = read_input(text.encode(), CHAT, 3)
    assert [(e["code"], e["line"]) for e in errors] == [("too_many_requests", 4)] and parsed == 3

    parsed = 0
    requests, errors = read_input("\n".join(["not json"] * 10_000).encode(), CHAT, 3)
    assert len(errors) == openai.MAX_ERRORS and parsed == openai.MAX_ERRORS
