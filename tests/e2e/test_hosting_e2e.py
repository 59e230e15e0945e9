"""Hosting for a team, end to end: the real CLI against the fake upstream, behind a real server,
driven by the official openai and anthropic clients. Two keys with different policies, a usage
ledger that adds up to what the clients were told, a revoked key, and a restart that keeps it all."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.support import GatewayServer

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer e2e-admin-0123456789abcdef-0123456789"}


@pytest.fixture
def hosting(upstream, cli_config_dir, tmp_path):
    """Start (and restart) gateways sharing one data folder."""
    servers: list[GatewayServer] = []

    def start() -> GatewayServer:
        env = {
            **upstream.cli_env(str(cli_config_dir)),
            "GATEWAY_ADMIN_KEY": "e2e-admin-0123456789abcdef-0123456789",
            "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        }
        server = GatewayServer(env, tmp_path).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def new_key(server: GatewayServer, **policy) -> dict:
    response = httpx.post(f"{server.url}/admin/keys", json={"name": "k", **policy}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def clients(server: GatewayServer, key: str) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    return (
        openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0),
        anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0),
    )


def test_two_keys_their_limits_their_usage_a_revocation_and_a_restart(hosting):
    server = hosting()
    ann = new_key(server, models=["sonnet"], rpm=4)
    bob = new_key(server, budget_usd=0.0000001, budget_period="day")
    oa, an = clients(server, ann["key"])

    # Ann: what the clients were told, turn by turn.
    raw = oa.chat.completions.with_raw_response.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-ratelimit-limit-requests"] == "4" and raw.headers["x-ratelimit-remaining-requests"] == "3"
    told = [raw.parse().usage]
    stream = oa.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    told += [chunk.usage for chunk in stream if chunk.usage]
    message = an.messages.create(model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError) as outside:
        oa.chat.completions.create(model="opus", messages=[{"role": "user", "content": "hi"}])
    assert outside.value.code == "model_not_found"
    with pytest.raises(anthropic.RateLimitError) as limited:  # the 5th request in the minute
        an.messages.create(model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert int(limited.value.response.headers["retry-after"]) >= 1

    usage = httpx.get(f"{server.url}/v1/usage", headers={"Authorization": f"Bearer {ann['key']}"}).json()["total"]
    assert usage["requests"] == 3
    prompt = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    told_prompt = sum(u.prompt_tokens for u in told) + message.usage.input_tokens
    told_prompt += (message.usage.cache_read_input_tokens or 0) + (message.usage.cache_creation_input_tokens or 0)
    assert prompt == told_prompt
    assert usage["output_tokens"] == sum(u.completion_tokens for u in told) + message.usage.output_tokens
    assert usage["cost_usd"] > 0  # Claude Code's own total_cost_usd

    # Bob: a budget spent by one turn.
    ob, ab = clients(server, bob["key"])
    ob.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.RateLimitError) as broke:
        ab.messages.create(model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert "budget for this day" in str(broke.value) and "resets at" in str(broke.value)

    # Ann revoked: her next request is refused.
    assert httpx.delete(f"{server.url}/admin/keys/{ann['id']}", headers=ADMIN).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        oa.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])

    # A restart keeps keys and usage.
    server.stop()
    server = hosting()
    with pytest.raises(anthropic.RateLimitError):  # Bob's budget is still spent
        clients(server, bob["key"])[1].messages.create(
            model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.AuthenticationError):  # Ann's key is still revoked
        clients(server, ann["key"])[0].chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "hi"}]
        )
    everyone = httpx.get(f"{server.url}/admin/usage?group_by=key", headers=ADMIN).json()
    by_key = {group["key"]: group for group in everyone["by_key"]}
    assert by_key[ann["id"]]["requests"] == 3 and by_key[ann["id"]]["cost_usd"] == usage["cost_usd"]
    assert by_key[bob["id"]]["requests"] == 1
