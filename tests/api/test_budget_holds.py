"""A key's budget holds against concurrent requests: each turn reserves its estimate when it
starts and its ledger entry settles it, so 20 requests at once on a budget that allows 3 spend at
most the budget and one turn's reservation, on one gateway (SQLite, the fake CLI) and over two
replicas on one real Redis. Chat's `n` reserves n turns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.events import Event, Finish, TextDelta, Usage
from app.core.messages import Message
from app.core.settings import Settings
from app.core.turn import Turn
from app.http.app import create_app
from app.tenancy.reservations import estimate
from tests.support import ScriptedEngine, ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}
SLOW = "[[slow]] hi"  # the fake CLI's echo of it: 5 chunks, 0.1 s apart


def turn_like(text: str, max_tokens: int) -> Turn:
    return Turn("sonnet", [Message("user", [{"type": "text", "text": text}])], max_output_tokens=max_tokens)


async def key(client: httpx.AsyncClient, **policy) -> dict[str, str]:
    made = await client.post("/admin/keys", json={"name": "k", **policy}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


async def spent(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    return (await client.get("/v1/usage", headers=headers)).json()["total"]


async def burst(clients: list[httpx.AsyncClient], headers: dict[str, str], body: dict, count: int = 20) -> list:
    answers = await asyncio.gather(
        *(clients[i % len(clients)].post("/v1/chat/completions", json=body, headers=headers) for i in range(count))
    )
    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "insufficient_quota", answer.text
    return answers


async def test_twenty_concurrent_chats_on_one_gateway_spend_at_most_the_budget_and_one_reservation(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", max_processes=4, busy_wait=60)
    free = await key(client)
    body = {**ask(SLOW), "max_tokens": 8}
    assert (await client.post("/v1/chat/completions", json=body, headers=free)).status_code == 200
    cost = (await spent(client, free))["cost_usd"]
    reserved = estimate(turn_like(SLOW, 8)).cost_usd
    assert 0 < cost <= reserved  # the estimate is an upper bound here, as max_tokens makes it
    budget = 3 * reserved
    limited = await key(client, budget_usd=budget, budget_period="day")

    answers = await burst([client], limited, body)
    total = await spent(client, limited)
    assert total["cost_usd"] <= budget + reserved, total  # 20 turns would be about 7 times the budget
    assert sum(a.status_code == 200 for a in answers) >= 3, [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 429).json()["error"]["message"]
    assert "its running turns hold" in refused and "resets at" in refused


class SlowEngine(ScriptedEngine):
    """Answers each turn in 0.3 s, reporting 15 tokens and COST USD, as Claude Code would."""

    COST = 0.001

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        self.turns.append(turn)
        yield TextDelta("hello")
        await asyncio.sleep(0.3)
        yield Finish("stop", Usage(input_tokens=10, output_tokens=5), "sonnet", cost_usd=self.COST)


@pytest.fixture
async def replicas(redis_url, tmp_path):
    """Two gateways on one Redis, each on a SlowEngine: their clients."""
    apps = []
    for name in ("a", "b"):
        values = {
            "redis_url": redis_url,
            "redis_prefix": "budget:",
            "admin_key": "admin-secret-0123456789abcdef-0123456789",
        }
        apps.append(create_app(Settings(_env_file=None, data_dir=str(tmp_path / name), **values), SlowEngine()))
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") for app in apps]
    yield clients
    for app in apps:
        await app.state.gateway.sessions.limits.counters.shared.close()


@pytest.mark.parametrize("kind", ["budget_usd", "token_budget"])
async def test_twenty_concurrent_chats_over_two_replicas_spend_at_most_the_budget_and_one_reservation(replicas, kind):
    body = {**ask("hi"), "max_tokens": 20}
    each = estimate(turn_like("hi", 20))
    if kind == "budget_usd":
        # The estimate (a reservation) is above what a turn reports, as it is with max_tokens.
        SlowEngine.COST = each.cost_usd / 2
        budget, reserved, measure = 3 * each.cost_usd, each.cost_usd, "cost_usd"
    else:
        budget, reserved, measure = 3 * each.tokens, each.tokens, "total_tokens"
    limited = await key(replicas[0], **{kind: budget})

    answers = await burst(replicas, limited, body)
    total = await spent(replicas[1], limited)
    assert total[measure] <= budget + reserved, total  # without reservations: all 20 ran
    assert 3 <= sum(a.status_code == 200 for a in answers) <= 7


async def test_chats_n_reserves_n_turns_at_once(tmp_path):
    app = create_app(
        Settings(_env_file=None, data_dir=str(tmp_path), admin_key="admin-secret-0123456789abcdef-0123456789"),
        SlowEngine(),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
    each = estimate(turn_like("hi", 20)).tokens
    limited = await key(client, token_budget=3 * each)
    four = await client.post("/v1/chat/completions", json={**ask("hi", n=4), "max_tokens": 20}, headers=limited)
    assert four.status_code == 429 and "4 turns would need" in four.json()["error"]["message"], four.text
    assert (await spent(client, limited))["requests"] == 0
    three = await client.post("/v1/chat/completions", json={**ask("hi", n=3), "max_tokens": 20}, headers=limited)
    assert three.status_code == 200 and len(three.json()["choices"]) == 3, three.text
    # Settled by what the three used (15 tokens each): the holds are gone, the budget has room.
    assert (await spent(client, limited))["total_tokens"] == 45
    again = await client.post("/v1/chat/completions", json={**ask("hi"), "max_tokens": 20}, headers=limited)
    assert again.status_code == 200, again.text


async def test_a_batchs_concurrent_requests_reserve_like_any_turn(gateway):
    """Batch requests run side by side (batch_concurrency) and each reserves, so a budget that one
    turn spends is not spent four times over."""
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", batch_concurrency=4)
    limited = await key(client, token_budget=10)
    params = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": SLOW}]}
    body = {"requests": [{"custom_id": f"r{i}", "params": params} for i in range(4)]}
    made = (await client.post("/v1/messages/batches", json=body, headers=limited)).json()
    batch: dict = {}
    for _ in range(600):
        batch = (await client.get(f"/v1/messages/batches/{made['id']}", headers=limited)).json()
        if batch["processing_status"] == "ended":
            break
        await asyncio.sleep(0.05)
    counts = batch["request_counts"]
    assert counts["succeeded"] == 1 and counts["errored"] == 3, batch  # without reservations: 4 succeeded
    assert (await spent(client, limited))["total_tokens"] < 10 + estimate(turn_like(SLOW, 100)).tokens
