"""Metrics and the request log of the gateway as a user starts it (main.py, uvicorn), on the REAL
CLI and the fake Anthropic API: /metrics parsed with prometheus_client's own text parser, and the
log in JSON lines."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import API_KEY, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def observed(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(
        upstream, cli_config_dir, tmp_path_factory, "observed", metrics_token="scrape-me", log_format="json"
    )


def samples(gateway, name: str) -> dict[tuple, float]:
    response = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=30)
    assert response.status_code == 200, response.text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    }


def test_two_real_turns_show_in_metrics_and_in_json_log_lines(observed, fake):
    client = OpenAI(base_url=f"{observed.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    answers = [
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": text}])
        for text in ("Say one.", "Say two.")
    ]
    assert all(answer.choices[0].message.content for answer in answers)

    ttft = samples(observed, "claude_gateway_time_to_first_token_seconds_count")
    assert ttft == {(("door", "chat"), ("model", "sonnet")): 2}
    assert sum(samples(observed, "claude_gateway_output_tokens_total").values()) == sum(
        answer.usage.completion_tokens for answer in answers
    )
    assert sum(samples(observed, "claude_gateway_process_spawn_seconds_count").values()) >= 1
    assert httpx.get(f"{observed.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 401

    lines = [json.loads(line) for line in observed.log().splitlines() if line.startswith("{")]
    turns = [line for line in lines if line.get("logger") == "claude_gateway.requests" and line["turns"]]
    assert [line["request_id"] for line in turns] == [answer.id for answer in answers]
    assert all(line["ttft_ms"] is not None and line["output_tokens"] > 0 for line in turns)
    assert "Application startup complete." in [line["message"] for line in lines]  # uvicorn's, in JSON too
    assert API_KEY not in observed.log()
