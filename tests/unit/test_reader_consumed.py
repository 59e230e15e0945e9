"""What a turn that ends without Claude Code's result is charged (TurnReader.consumed): every
model call it made, the one under way with its output counted from its deltas (the call's own
count comes only at its end), less what answers already reported."""

from __future__ import annotations

from app.core.events import Usage
from app.engine.reading.reader import TurnReader
from tests.unit.test_engine_reading import delta, stream


def start(message_id: str, model: str = "claude-sonnet-5-5") -> object:
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 3}
    return stream({"type": "message_start", "message": {"id": message_id, "model": model, "usage": usage}})


def end(output_tokens: int, stop_reason: str = "end_turn") -> object:
    return stream(
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": output_tokens}}
    )


def test_a_call_cut_mid_stream_counts_its_deltas_not_the_one_token_message_start_says():
    reader = TurnReader(default_retry_after=9)
    for message in [start("m1"), *(delta("text_delta", "word") for _ in range(50))]:
        reader.feed(message)
    assert reader.consumed() == Usage(input_tokens=10, output_tokens=50, cache_read_input_tokens=3)
    assert reader.model == "claude-sonnet-5-5"  # known before any whole assistant message came


def test_long_deltas_count_four_characters_a_token_and_signatures_none():
    reader = TurnReader(default_retry_after=9)
    reader.feed(start("m1"))
    reader.feed(delta("text_delta", "x" * 400))
    reader.feed(
        stream({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}})
    )
    assert reader.consumed().output_tokens == 100


def test_every_call_of_a_multi_step_turn_is_charged_not_only_the_last():
    reader = TurnReader(default_retry_after=9)
    for message in [start("m1"), delta("text_delta", "a"), end(7, "tool_use"), start("m2"), delta("text_delta", "b")]:
        reader.feed(message)
    assert reader.consumed() == Usage(input_tokens=20, output_tokens=8, cache_read_input_tokens=6)


def test_a_turn_the_cli_began_but_no_model_call_reported_is_charged_its_prompt():
    """A client gone right after its body: the CLI had begun the turn (its first frame) and its
    model call was on the wire, but no usage came back. That call's input is billed by Anthropic,
    so the turn is charged its prompt, estimated (a hostile client hung up 50 ms after each body
    and spent nothing). A turn the CLI never began is charged nothing."""
    from claude_agent_sdk.types import SystemMessage

    from app.core.messages import Message
    from app.core.turn import Turn
    from app.engine.turns.router import cut_short

    turn = Turn(model="sonnet", messages=[Message("user", [{"type": "text", "text": "x" * 400}])])
    reader = TurnReader(60)
    assert cut_short(reader, turn, left=True) == Usage()
    reader.feed(SystemMessage(subtype="init", data={"type": "system", "subtype": "init"}))
    assert cut_short(reader, turn, left=True) == Usage(input_tokens=100)
    assert cut_short(reader, turn, left=False) == Usage()  # it failed: an upstream error is not billed
