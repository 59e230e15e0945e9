"""Replicas on one Redis (GATEWAY_REDIS_URL) share the store: a key made on one works on the
other, a turn on one counts in the other's usage and budget, a key revoked on one is refused by
the other at once; and a replica whose Redis is gone says so on /health/ready."""

from __future__ import annotations

from app.core.events import Finish, TextDelta, Usage
from tests.real_redis import RedisServer
from tests.support import ask, make_client

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def replica(redis_url: str, data_dir) -> tuple:
    """A gateway on a ScriptedEngine whose turns cost 7+3 tokens and $0.01, with its own data
    folder: what the replicas share goes through Redis alone."""
    client, engine = make_client(
        redis_url=redis_url, admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(data_dir)
    )
    engine.script = [TextDelta("hi"), Finish("stop", Usage(input_tokens=7, output_tokens=3), cost_usd=0.01)]
    return client, engine


async def close(client) -> None:
    await client._transport.app.state.gateway.redis.close()
    await client.aclose()


async def test_two_replicas_share_keys_usage_budgets_and_revocations(redis_url, tmp_path):
    one, _ = replica(redis_url, tmp_path / "one")
    two, _ = replica(redis_url, tmp_path / "two")
    try:
        created = (await one.post("/admin/keys", json={"name": "team", "token_budget": 15}, headers=ADMIN)).json()
        key = created["key"]
        assert [k["id"] for k in (await two.get("/admin/keys", headers=ADMIN)).json()["data"]] == [created["id"]]

        answered = await two.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))
        assert answered.status_code == 200, answered.text
        mine = (await one.get("/v1/usage", headers=bearer(key))).json()["total"]
        assert (mine["requests"], mine["input_tokens"], mine["output_tokens"]) == (1, 7, 3)
        everyone = (await one.get("/admin/usage", headers=ADMIN)).json()["total"]
        assert everyone["requests"] == 1 and everyone["cost_usd"] == 0.01

        # 10 of its 15 tokens spent on two; one more turn on one reaches the budget ...
        assert (await one.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))).status_code == 200
        refused = await two.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"

        # ... and revoked on one, it is refused on two at once.
        assert (await one.delete(f"/admin/keys/{created['id']}", headers=ADMIN)).status_code in (200, 204)
        gone = await two.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "invalid_api_key"
        assert (await two.get("/admin/keys", headers=ADMIN)).json()["data"] == []
        # Nothing went through SQLite.
        assert not list(tmp_path.rglob("gateway.db"))
    finally:
        await close(one)
        await close(two)


async def test_a_replica_whose_redis_is_down_is_not_ready(tmp_path):
    server = RedisServer(tmp_path / "redis").start()  # its own server: the shared one stays up
    client, _ = replica(server.url, tmp_path / "data")
    try:
        assert (await client.get("/health/ready")).status_code == 200
        server.stop()
        down = await client.get("/health/ready")
        assert down.status_code == 503 and down.json()["checks"]["store"] == "unreachable"
        assert (await client.get("/health/live")).status_code == 200
        # A request that needs the store is told to retry, in its door's envelope (not a 500).
        openai = await client.get("/admin/keys", headers=ADMIN)
        assert openai.status_code == 503 and openai.headers["retry-after"] == "5"
        assert openai.json()["error"]["code"] == "store_unavailable"
        message = {"model": "sonnet", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        anthropic = await client.post("/v1/messages", json=message, headers=bearer("sk-gw-someone"))
        assert anthropic.status_code == 503 and anthropic.json()["error"]["type"] == "overloaded_error"
    finally:
        server.stop()
        await close(client)
