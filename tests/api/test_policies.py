"""Two keys with different policies, on the real engine with the fake CLI: each limit answers in
the door's own envelope, and never touches the other key."""

from __future__ import annotations

import asyncio

from tests.support import ask, wait_until

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def keys(client, *policies: dict) -> list[str]:
    made = []
    for policy in policies:
        response = await client.post("/admin/keys", json={"name": "k", **policy}, headers=ADMIN)
        assert response.status_code == 201, response.text
        made.append(response.json()["key"])
    return made


def anthropic(text: str, model: str = "sonnet") -> dict:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]}


async def test_a_model_outside_the_keys_list_is_404_in_each_doors_envelope(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    limited, free = await keys(client, {"models": ["haiku"]}, {})
    chat = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(limited))
    assert chat.status_code == 404 and chat.json()["error"]["code"] == "model_not_found", chat.text
    messages = await client.post("/v1/messages", json=anthropic("hi"), headers=bearer(limited))
    assert messages.status_code == 404 and messages.json()["error"]["type"] == "not_found_error", messages.text
    responses = await client.post("/v1/responses", json={"model": "sonnet", "input": "hi"}, headers=bearer(limited))
    assert responses.status_code == 404 and responses.json()["error"]["code"] == "model_not_found"
    two = await client.post("/v1/chat/completions", json=ask("hi", n=2), headers=bearer(limited))
    assert two.status_code == 404, two.text
    counted = await client.post("/v1/messages/count_tokens", json=anthropic("hi"), headers=bearer(limited))
    assert counted.status_code == 404 and counted.json()["error"]["type"] == "not_found_error", counted.text
    allowed = await client.post("/v1/chat/completions", json={**ask("hi"), "model": "haiku"}, headers=bearer(limited))
    assert allowed.status_code == 200, allowed.text
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(free))).status_code == 200


async def test_past_rpm_429_with_retry_after_and_rate_headers_on_every_response(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    limited, free = await keys(client, {"rpm": 2}, {})
    first = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(limited))
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    streamed = await client.post("/v1/chat/completions", json=ask("hi", stream=True), headers=bearer(limited))
    assert streamed.status_code == 200 and streamed.headers["x-ratelimit-remaining-requests"] == "0"
    refused = await client.post("/v1/messages", json=anthropic("hi"), headers=bearer(limited))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["type"] == "rate_limit_error"  # Anthropic's envelope on /v1/messages
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    chat = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(limited))
    assert chat.status_code == 429 and chat.json()["error"]["code"] == "rate_limit_exceeded"
    listing = await client.get("/v1/sessions", headers=bearer(limited))  # not a turn: not counted, but told
    assert listing.status_code == 200 and listing.headers["x-ratelimit-limit-requests"] == "2"
    other = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(free))
    assert other.status_code == 200 and "x-ratelimit-limit-requests" not in other.headers


async def test_a_spent_budget_is_429_insufficient_quota_saying_what_was_spent_and_when_it_resets(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    dollars, tokens, free = await keys(
        client, {"budget_usd": 0.000001, "budget_period": "day"}, {"token_budget": 10}, {}
    )
    for key in (dollars, tokens, free):
        assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))).status_code == 200
    refused = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(dollars))
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_quota" and "of its $1e-06 budget for this day" in error["message"]
    assert "resets at" in error["message"] and int(refused.headers["retry-after"]) <= 86400
    by_tokens = await client.post("/v1/messages", json=anthropic("hi"), headers=bearer(tokens))
    assert by_tokens.status_code == 429 and "of its 10 tokens for this month" in by_tokens.json()["error"]["message"]
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(free))).status_code == 200


async def test_max_sessions_overrides_the_gateways_per_key_cap(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    one, free = await keys(client, {"max_sessions": 1}, {})
    first = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(one, **{"X-Session-Id": "a"}))
    assert first.status_code == 200
    second = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(one, **{"X-Session-Id": "b"}))
    assert second.status_code == 429 and second.json()["error"]["code"] == "too_many_sessions"
    for name in ("a", "b"):
        answer = await client.post(
            "/v1/chat/completions", json=ask("hi"), headers=bearer(free, **{"X-Session-Id": name})
        )
        assert answer.status_code == 200


async def test_max_processes_evicts_the_keys_own_idle_processes_only(gateway):
    client, engine, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", spare_processes=0)
    one, free = await keys(client, {"max_processes": 1}, {})
    b = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(free, **{"X-Session-Id": "b"}))
    assert b.status_code == 200
    theirs = {p for p in engine.pool.processes if p.tenant and p.tenant != "anonymous"}
    for name in ("a1", "a2", "a3"):
        answer = await client.post(
            "/v1/chat/completions", json=ask("hi"), headers=bearer(one, **{"X-Session-Id": name})
        )
        assert answer.status_code == 200, answer.text
        mine = [p for p in engine.pool.processes if p.tenant and p not in theirs]
        assert len(mine) == 1  # the key's previous process made room
    assert theirs <= engine.pool.processes and all(p.alive for p in theirs)  # the other key's process stayed


async def test_past_max_concurrent_a_turn_waits_then_429_and_a_cut_short_turn_is_in_the_ledger(gateway):
    client, engine, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", busy_wait=0.2)
    [one] = await keys(client, {"max_concurrent": 1})
    hanging = asyncio.create_task(client.post("/v1/chat/completions", json=ask("[[hang]]"), headers=bearer(one)))
    assert await asyncio.to_thread(wait_until, lambda: any(p.in_turn for p in engine.pool.processes))
    second = await client.post("/v1/messages", json=anthropic("hi"), headers=bearer(one))
    assert second.status_code == 429 and second.json()["error"]["type"] == "rate_limit_error", second.text
    hanging.cancel()
    await asyncio.wait({hanging})

    async def ledger() -> list[dict]:
        return (await client.get("/admin/usage?group_by=day", headers=ADMIN)).json()["by_day"]

    for _ in range(100):
        if await ledger():
            break
        await asyncio.sleep(0.05)
    assert (await ledger())[0]["requests"] == 1  # the turn the client left is recorded
    after = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(one))
    assert after.status_code == 200  # its slot was given back
