"""Streamed delta frames come from templates (sse.py): each must be, byte for byte, the frame
json.dumps would make of its payload, whatever the piece holds."""

from __future__ import annotations

import json

import pytest

from app.core.events import Finish, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart, Usage
from app.dialects.anthropic_messages import outbound as anthropic_messages_out
from app.dialects.openai_chat import outbound as openai_chat_out
from app.dialects.openai_responses import outbound as openai_responses_out
from app.dialects.openai_responses.wire import ResponsesRequest
from app.dialects.sse import FrameTemplate, hole, sse, sse_event

PIECES = [
    "plain",
    'a "quoted" word',
    "back\\slash \\n not a newline",
    "control \x00\x01\x08\t\n\r\x1f\x7f chars",
    "unicode é ß 中文 🎉",
    "line\u2028and\u2029paragraph separators",
    "lone surrogate \ud800 half",
    "{}[]:,",
    "\x00" + "0" * 32 + ":0\x00",  # looks like a hole's insides
]


def dumped(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def test_a_template_fills_as_json_dumps_encodes():
    template = FrameTemplate(sse({"type": "d", "text": hole(), "after": 1}))
    for piece in [*PIECES, ""]:
        assert template.fill(piece) == f"data: {dumped({'type': 'd', 'text': piece, 'after': 1})}\n\n"


def test_a_template_with_two_holes_takes_a_number_and_a_string():
    template = FrameTemplate(sse_event({"type": "d", "n": hole(0), "x": "y", "delta": hole(1)}), holes=2)
    for n, piece in enumerate(PIECES):
        payload = {"type": "d", "n": n, "x": "y", "delta": piece}
        assert template.fill(n, piece) == f"event: d\ndata: {dumped(payload)}\n\n"


def test_a_template_needs_each_hole_once():
    with pytest.raises(ValueError):
        FrameTemplate(sse({"a": hole(0), "b": hole(0)}))
    with pytest.raises(ValueError):
        FrameTemplate(sse({"a": hole(0)}), holes=2)


def as_dumped(frame: str) -> tuple[str, dict]:
    """The frame rebuilt from its parsed payload with json.dumps, and the payload."""
    head, _, data = frame.partition("data: ")
    payload = json.loads(data)
    return f"{head}data: {dumped(payload)}\n\n", payload


def checked(frames: list[str]) -> list[dict]:
    payloads = []
    for frame in frames:
        rebuilt, payload = as_dumped(frame)
        assert frame == rebuilt
        payloads.append(payload)
    return payloads


def answer(piece: str) -> list:
    """A turn whose thinking, text and function call arguments each come in pieces."""
    return [
        ThinkingDelta(piece),
        ThinkingDelta(piece),
        TextDelta(piece),
        TextDelta(piece),
        ToolCallStart(0, "call_1", "f"),
        ToolCallDelta(0, piece),
        ToolCallDelta(0, piece),
        ToolCallStart(1, "call_2", "g"),
        ToolCallDelta(1, piece),
        Finish("tool_use", Usage(1, 2)),
    ]


@pytest.mark.parametrize("piece", PIECES)
@pytest.mark.parametrize("legacy", [False, True])
def test_chat_delta_chunks_are_json_dumps_exact(piece, legacy):
    stream = openai_chat_out.ChunkStream("c", 1, "m", include_usage=True, legacy_functions=legacy)
    frames = [frame for event in answer(piece) for frame in stream.frames((0, event))]
    deltas = [p["choices"][0]["delta"] for p in checked(frames)]
    if legacy:  # only the first call, as function_call
        calls = [{"function_call": {"name": "f", "arguments": ""}}] + [{"function_call": {"arguments": piece}}] * 2
    else:
        start = [
            {
                "tool_calls": [
                    {"index": n, "id": f"call_{n + 1}", "type": "function", "function": {"name": f, "arguments": ""}}
                ]
            }
            for n, f in enumerate("fg")
        ]
        more = [{"tool_calls": [{"index": n, "function": {"arguments": piece}}]} for n in (0, 1)]
        calls = [start[0], more[0], more[0], start[1], more[1]]
    assert deltas == [{"reasoning_content": piece}] * 2 + [{"content": piece}] * 2 + calls + [{}]
    assert all(json.loads(f[6:])["usage"] is None for f in frames)


@pytest.mark.parametrize("piece", PIECES)
def test_anthropic_delta_events_are_json_dumps_exact(piece):
    stream = anthropic_messages_out.EventStream("msg_1", "m")
    frames = [frame for event in answer(piece) for frame in stream.frames(event)]
    deltas = [(p["index"], p["delta"]) for p in checked(frames) if p["type"] == "content_block_delta"]
    assert deltas == [
        (0, {"type": "thinking_delta", "thinking": piece}),
        (0, {"type": "thinking_delta", "thinking": piece}),
        (1, {"type": "text_delta", "text": piece}),
        (1, {"type": "text_delta", "text": piece}),
        (2, {"type": "input_json_delta", "partial_json": piece}),
        (2, {"type": "input_json_delta", "partial_json": piece}),
        (3, {"type": "input_json_delta", "partial_json": piece}),
    ]
    assert all(frame.startswith(f"event: {p['type']}\n") for frame, p in zip(frames, checked(frames), strict=True))


@pytest.mark.parametrize("piece", PIECES)
def test_responses_delta_events_are_json_dumps_exact(piece):
    request = ResponsesRequest.model_validate({"model": "m", "input": "x"})
    builder = openai_responses_out.ResponseBuilder("resp_1", 1, request)
    frames = builder.opening() + [frame for event in answer(piece) for frame in builder.frames(event)]
    payloads = checked(frames)
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    deltas = [(p["type"], p["output_index"], p["delta"]) for p in payloads if p["type"].endswith(".delta")]
    assert deltas == [
        ("response.output_text.delta", 1, piece),
        ("response.output_text.delta", 1, piece),
        ("response.function_call_arguments.delta", 2, piece),
        ("response.function_call_arguments.delta", 2, piece),
        ("response.function_call_arguments.delta", 3, piece),
    ]
    text = next(p for p in payloads if p["type"] == "response.output_text.delta")
    assert text["item_id"].startswith("msg_") and text["content_index"] == 0
    done = payloads[-1]["response"]["output"]
    assert [item.get("arguments") for item in done[2:]] == [piece * 2, piece]
