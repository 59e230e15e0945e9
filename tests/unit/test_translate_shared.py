"""What every front door's translator does alike, checked on all three at once."""

from __future__ import annotations

import pytest

from app.engine.types import Restart, TextDelta
from app.errors import GatewayError
from app.protocol.openai_responses import ResponsesRequest
from app.translate import anthropic_messages, openai_chat, openai_responses
from app.translate.sse import sse, sse_event

WRITERS = {
    "chat": lambda: openai_chat.ChunkStream("c", 1, "m", include_usage=False),
    "messages": lambda: anthropic_messages.EventStream("msg_1", "m"),
    "responses": lambda: openai_responses.ResponseBuilder(
        "resp_1", 1, ResponsesRequest.model_validate({"model": "m", "input": "x"})
    ),
}


def test_a_frame_is_data_or_an_event_and_its_data():
    payload = {"type": "ping", "text": "é\n"}
    assert sse(payload) == 'data: {"type":"ping","text":"é\\n"}\n\n'
    assert sse_event(payload) == 'event: ping\ndata: {"type":"ping","text":"é\\n"}\n\n'


@pytest.mark.parametrize("door", WRITERS)
def test_a_restart_fails_every_stream_with_one_error(door):
    writer = WRITERS[door]()
    writer.frames((0, TextDelta("x")) if door == "chat" else TextDelta("x"))
    with pytest.raises(GatewayError) as caught:
        writer.frames((0, Restart()) if door == "chat" else Restart())
    error = caught.value
    assert (error.status, error.type, error.code) == (502, "api_error", "upstream_stream_interrupted")
    assert error.message == (
        "Claude's answer broke off mid-stream and Claude Code started it again; the text already "
        "streamed is void. Retry the request."
    )
