"""With the real Claude Code CLI: a stream the client hangs up on is charged what Claude streamed
before it (the CLI never sends its result, so never its cost): output tokens about the deltas
sent, priced at the model's list price."""

from __future__ import annotations

import time

import httpx

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def total(gateway) -> dict:
    answer: dict = httpx.get(f"{gateway.url}/v1/usage", headers=HEADERS, timeout=10).json()["total"]
    return answer


def test_a_stream_cut_after_fifty_deltas_is_charged_what_was_streamed(gateway, fake):
    fake.enqueue(Reply(text=" ".join(f"w{i}" for i in range(400)), chunk_size=4, delay=0.05, output_tokens=500))
    before = total(gateway)
    body = {"model": "sonnet", "stream": True, "messages": [{"role": "user", "content": "write a lot"}]}
    deltas = 0
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=HEADERS, timeout=60) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():
            deltas += line.startswith("data:") and '"content":"' in line and '"content":""' not in line
            if deltas >= 50:
                break  # the client hangs up
    after = before
    for _ in range(200):
        after = total(gateway)
        if after["requests"] > before["requests"]:
            break
        time.sleep(0.1)
    assert after["requests"] == before["requests"] + 1, after
    output = after["output_tokens"] - before["output_tokens"]
    assert 45 <= output <= 100, (before, after)  # about the deltas sent, not the 1 message_start says
    assert after["cost_usd"] - before["cost_usd"] >= 45 * 10 / 1e6, (before, after)  # Sonnet's $10/M, not 0
