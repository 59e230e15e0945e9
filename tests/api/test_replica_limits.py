"""Two gateways on one Redis (GATEWAY_REDIS_URL), as replicas behind a load balancer: a key's rpm
and max_concurrent are the key's whichever replica answers, with each door's envelope and OpenAI's
rate headers as on one gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.events import Event
from app.core.settings import Settings
from app.core.turn import Turn
from app.http.app import create_app
from tests.support import ScriptedEngine, ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


class GatedEngine(ScriptedEngine):
    """Answers like ScriptedEngine once `gate` is set; `entered` says a turn is running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.entered = asyncio.Event(), asyncio.Event()

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        self.entered.set()
        await self.gate.wait()
        async for event in super().stream(turn):
            yield event


@pytest.fixture
async def replicas(redis_url):
    """Starts replicas of one gateway: (client, engine) each, sharing the test's Redis and data folder."""
    apps = []

    def start(**settings) -> tuple[httpx.AsyncClient, GatedEngine]:
        engine = GatedEngine()
        engine.gate.set()
        values = {
            "redis_url": redis_url,
            "redis_prefix": "test-replicas:",
            "admin_key": "admin-secret-0123456789abcdef-0123456789",
            **settings,
        }
        app = create_app(Settings(_env_file=None, **values), engine)
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost"), engine

    yield start
    for app in apps:
        await app.state.gateway.sessions.limits.counters.shared.close()


async def managed_key(client: httpx.AsyncClient, **policy: int) -> dict[str, str]:
    response = await client.post("/admin/keys", json={"name": "k", **policy}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def anthropic(text: str) -> dict:
    return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}


async def test_rpm_holds_over_two_replicas_whichever_serves_the_request(replicas):
    (one, _), (two, _) = replicas(), replicas()
    key = await managed_key(one, rpm=3)
    answers = [
        await one.post("/v1/chat/completions", json=ask("hi"), headers=key),
        await two.post("/v1/chat/completions", json=ask("hi"), headers=key),
        await one.post("/v1/messages", json=anthropic("hi"), headers=key),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], answers[-1].text
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
    chat = await two.post("/v1/chat/completions", json=ask("hi"), headers=key)
    assert chat.status_code == 429 and chat.json()["error"]["code"] == "rate_limit_exceeded", chat.text
    messages = await one.post("/v1/messages", json=anthropic("hi"), headers=key)
    assert messages.status_code == 429 and messages.json()["error"]["type"] == "rate_limit_error", messages.text
    for refused in (chat, messages):
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-limit-requests"] == "3"
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    listing = await two.get("/v1/sessions", headers=key)  # not a turn: told, not counted
    assert listing.status_code == 200 and listing.headers["x-ratelimit-remaining-requests"] == "0"
    other = await managed_key(two, rpm=3)  # another key: its own minute
    assert (await two.post("/v1/chat/completions", json=ask("hi"), headers=other)).status_code == 200


async def test_max_concurrent_holds_over_two_replicas_and_frees_at_the_turns_end(replicas):
    (one, engine), (two, _) = replicas(), replicas(busy_wait=0)
    key = await managed_key(one, max_concurrent=1)
    engine.gate.clear()
    running = asyncio.create_task(one.post("/v1/chat/completions", json=ask("hi"), headers=key))
    await engine.entered.wait()
    refused = await two.post("/v1/messages", json=anthropic("hi"), headers=key)
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error", refused.text
    chat = await two.post("/v1/chat/completions", json=ask("hi"), headers=key)
    assert chat.status_code == 429 and chat.json()["error"]["code"] == "too_many_concurrent_requests", chat.text
    engine.gate.set()
    assert (await running).status_code == 200
    assert (await two.post("/v1/chat/completions", json=ask("hi"), headers=key)).status_code == 200
