"""Hosted web searches in the usage ledger and /metrics, end to end: the official clients -> the
gateway as a user starts it -> the REAL Claude Code CLI, whose WebSearch makes its own model call
to the fake upstream. A search that ran is counted once; one refused past `max_uses` is not, as
Anthropic's `usage.server_tool_use` does not count it either."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import API_KEY, serve
from tests.e2e.test_hosted_tools_e2e import CITING, SEARCH, search_then_cite
from tests.support import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def counted(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "counted", metrics_token="scrape-me")


def hosted_calls(gateway) -> dict[tuple, float]:
    """claude_gateway_hosted_tool_calls_total by (door, tool)."""
    response = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=30)
    assert response.status_code == 200, response.text
    return {
        (sample.labels["door"], sample.labels["tool"]): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "claude_gateway_hosted_tool_calls_total"
    }


def my_usage(gateway) -> dict:
    response = httpx.get(f"{gateway.url}/v1/usage", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_searches_that_ran_show_in_usage_and_metrics(counted, fake):
    # Messages: two searches asked for, max_uses 1: the second is refused inside Claude Code.
    again = {"name": "WebSearch", "input": {"query": "python release again"}}
    search_then_cite(fake, SEARCH, again)
    claude = anthropic.Anthropic(base_url=counted.url, api_key=API_KEY, max_retries=0)
    message = claude.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "news?"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    )
    assert message.usage.server_tool_use.web_search_requests == 1
    assert wait_until(lambda: my_usage(counted)["total"]["requests"] == 1)
    total = my_usage(counted)["total"]
    assert (total["web_search_requests"], total["web_fetch_requests"], total["mcp_calls"]) == (1, 0, 0)
    assert hosted_calls(counted) == {("messages", "web_search"): 1}

    # Chat, streamed: one more search, on its own door.
    search_then_cite(fake)
    openai = OpenAI(base_url=f"{counted.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    chunks = openai.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "news?"}], web_search_options={}, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CITING
    assert wait_until(lambda: my_usage(counted)["total"]["requests"] == 2)
    usage = my_usage(counted)
    assert usage["total"]["web_search_requests"] == 2
    assert sum(day["web_search_requests"] for day in usage["by_day"]) == 2  # two days, if run at midnight
    assert [model["web_search_requests"] for model in usage["by_model"]] == [2]
    assert hosted_calls(counted) == {("messages", "web_search"): 1, ("chat", "web_search"): 1}
