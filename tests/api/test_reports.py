"""The Anthropic Admin-API style reports over HTTP: GET /v1/organizations/usage_report/messages and
/v1/organizations/cost_report add up to the ledger that real turns (the fake CLI) fed, page through
every bucket without loss or repetition on SQLite and on Redis, take the admin key only, and answer
bad queries with a 400 in Anthropic's envelope."""

from __future__ import annotations

import calendar
import time
from typing import Any

import anthropic
import httpx2
import pytest

from app.store import UsageEntry
from tests.support import ask, make_client

ADMIN = {
    "x-api-key": "admin-secret-0123456789abcdef-0123456789",
    "anthropic-version": "2023-06-01",
}  # as Anthropic's admin clients send it
USAGE = "/v1/organizations/usage_report/messages"
COST = "/v1/organizations/cost_report"
HOUR, DAY = 3600, 86400
MAR_1 = calendar.timegm((2026, 3, 1, 0, 0, 0))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def today() -> str:
    return time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())


async def test_the_reports_add_up_to_what_real_turns_recorded(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key")
    ann = (
        await client.post(
            "/admin/keys", json={"name": "ann"}, headers=bearer("admin-secret-0123456789abcdef-0123456789")
        )
    ).json()
    for key in (ann["key"], ann["key"], "static-key"):
        assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))).status_code == 200
    message = {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/messages", json=message, headers=bearer(ann["key"]))).status_code == 200

    ledger = (
        await client.get("/admin/usage?group_by=key", headers=bearer("admin-secret-0123456789abcdef-0123456789"))
    ).json()
    by_key = {group["key"]: group for group in ledger["by_key"]}
    query = {"starting_at": today(), "group_by[]": ["api_key_id", "model"]}
    report = (await client.get(USAGE, params=query, headers=ADMIN)).json()
    assert report["has_more"] is False and report["next_page"] is None
    [bucket] = report["data"]
    assert bucket["starting_at"] == today() and bucket["ending_at"].endswith("T00:00:00Z")
    results = {r["api_key_id"]: r for r in bucket["results"]}
    assert set(results) == {ann["id"], *[k for k in by_key if k != ann["id"]]} and len(results) == 2
    for key_id, result in results.items():
        assert result["uncached_input_tokens"] == by_key[key_id]["input_tokens"]
        assert result["output_tokens"] == by_key[key_id]["output_tokens"]
        assert result["cache_read_input_tokens"] == by_key[key_id]["cache_read_input_tokens"]
        assert result["cache_creation"]["ephemeral_5m_input_tokens"] == by_key[key_id]["cache_creation_input_tokens"]
        assert result["model"] == "claude-sonnet-5-5" and result["workspace_id"] is None
        assert result["service_tier"] is None  # not grouped by it

    costs = (await client.get(COST, params={"starting_at": today()}, headers=ADMIN)).json()
    [[total]] = [b["results"] for b in costs["data"]]
    assert total["currency"] == "USD" and isinstance(total["amount"], str)
    assert float(total["amount"]) == pytest.approx(ledger["total"]["cost_usd"] * 100)  # cents


@pytest.mark.parametrize("shared", [False, True], ids=["sqlite", "redis"])
async def test_paging_walks_every_hour_bucket_once_and_the_sums_match(shared, request, tmp_path):
    settings = {"redis_url": request.getfixturevalue("redis_url")} if shared else {}
    client, _ = make_client(
        admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(tmp_path / "data"), **settings
    )
    gateway = client._transport.app.state.gateway
    recorded = 0
    for hour in range(0, 48, 5):  # every fifth hour over two days, one a batch turn
        door = "batch" if hour == 10 else "chat"
        at = MAR_1 + hour * HOUR + 59
        await gateway.store.record(UsageEntry(at, "gk_1", "key-gk_1", None, "sonnet", door, input_tokens=hour + 1))
        recorded += hour + 1
    query = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z", "bucket_width": "1h"}
    seen: list[str] = []
    tokens = batch = 0
    page: dict[str, str] = {}
    while True:
        answer = await client.get(
            USAGE, params={**query, "limit": 10, "group_by[]": "service_tier", **page}, headers=ADMIN
        )
        report = answer.json()
        seen += [b["starting_at"] for b in report["data"]]
        tokens += sum(r["uncached_input_tokens"] for b in report["data"] for r in b["results"])
        batch += sum(1 for b in report["data"] for r in b["results"] if r["service_tier"] == "batch")
        if not report["has_more"]:
            break
        page = {"page": report["next_page"]}
    expected = [time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(MAR_1 + h * HOUR)) for h in range(48)]
    assert seen == expected and (tokens, batch) == (recorded, 1)

    minute = await client.get(USAGE, params={**query, "bucket_width": "1m"}, headers=ADMIN)
    if shared:  # the Redis ledger keeps hour and day counters only
        assert minute.status_code == 400
        assert (
            minute.json()["error"]["type"] == "invalid_request_error" and "Redis" in minute.json()["error"]["message"]
        )
    else:
        assert minute.status_code == 200 and len(minute.json()["data"]) == 60
    await client.aclose()
    if shared:
        await gateway.redis.close()


async def test_the_reports_take_the_admin_key_only(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key")
    for path in (USAGE, COST):
        params = {"starting_at": today()}
        assert (await client.get(path, params=params, headers=ADMIN)).status_code == 200
        assert (
            await client.get(path, params=params, headers=bearer("admin-secret-0123456789abcdef-0123456789"))
        ).status_code == 200
        for headers in ({}, bearer("static-key"), {"x-api-key": "wrong"}):
            refused = await client.get(path, params=params, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["type"] == "error" and refused.json()["error"]["type"] == "authentication_error"
    client, _, _ = await gateway(api_keys="static-key")  # no admin key: the admin API is off
    refused = await client.get(USAGE, params={"starting_at": today()}, headers=bearer("static-key"))
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (USAGE, {}),
        (USAGE, {"starting_at": "not-a-time"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-02-01T00:00:00Z"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "bucket_width": "5m"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "bucket_width": "1h", "limit": "169"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "group_by[]": "user"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "page": "page_!!"}),
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "page": "page_\u00e9"}),  # not ASCII: base64 refuses it
        (USAGE, {"starting_at": "2026-03-01T00:00:00Z", "context_window[]": "1M+"}),
        (COST, {"starting_at": "2026-03-01T00:00:00Z", "bucket_width": "1h"}),
        (COST, {"starting_at": "2026-03-01T00:00:00Z", "group_by[]": "model"}),
        (COST, {"starting_at": "2026-03-01T00:00:00Z", "limit": "1e3"}),
    ],
)
async def test_bad_report_queries_get_a_400_in_anthropics_envelope(path, params, tmp_path):
    client, _ = make_client(admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(tmp_path / "data"))
    answer = await client.get(path, params=params, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["type"] == "error" and answer.json()["error"]["type"] == "invalid_request_error"
    await client.aclose()


async def test_filters_keep_only_the_matching_turns(tmp_path):
    client, _ = make_client(admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(tmp_path / "data"))
    store = client._transport.app.state.gateway.store
    await store.record(UsageEntry(MAR_1, "gk_1", "key-gk_1", None, "sonnet", "chat", output_tokens=1))
    await store.record(UsageEntry(MAR_1, "gk_2", "key-gk_2", None, "opus", "batch", output_tokens=10))
    await store.record(UsageEntry(MAR_1, None, "anonymous", None, "opus", "chat", output_tokens=100))
    base = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z"}

    async def output(**filters) -> list[int]:
        report = (await client.get(USAGE, params={**base, **filters}, headers=ADMIN)).json()
        return [r["output_tokens"] for r in report["data"][0]["results"]]

    assert await output() == [111]
    assert await output(**{"models[]": "opus"}) == [110]
    assert await output(**{"api_key_ids[]": ["gk_1", "gk_2"]}) == [11]
    assert await output(**{"service_tiers[]": "batch"}) == [10]
    assert await output(**{"workspace_ids[]": "wrkspc_1"}) == []  # the gateway has no workspaces
    assert await output(**{"group_by[]": "api_key_id"}) == [100, 1, 10]  # keyless use: api_key_id null, first
    await client.aclose()


async def test_the_anthropic_client_reads_the_report_with_its_admin_key(tmp_path):
    """The anthropic package has no typed method for these Admin API reports (its
    beta.organization.analytics ones are the Enterprise analytics API): its generic get() sends
    the admin key as x-api-key, and a bad query raises its BadRequestError."""
    client, _ = make_client(admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(tmp_path / "data"))
    app = client._transport.app
    admin = anthropic.AsyncAnthropic(
        base_url="http://localhost",
        api_key="admin-secret-0123456789abcdef-0123456789",
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        max_retries=0,
    )
    await app.state.gateway.store.record(UsageEntry(MAR_1 + 1, "gk_1", "key-gk_1", None, "sonnet", "chat", 3, 4))
    params = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z"}
    report = await admin.get(USAGE, cast_to=dict[str, Any], options={"params": params})
    assert report["data"][0]["results"][0]["uncached_input_tokens"] == 3
    with pytest.raises(anthropic.BadRequestError, match="bucket_width"):
        await admin.get(COST, cast_to=dict[str, Any], options={"params": {**params, "bucket_width": "1m"}})
    await admin.close()
    await client.aclose()
