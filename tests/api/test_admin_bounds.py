"""Every number an admin sets has a ceiling: past it, 400 naming the field (create and change), and
a key stored before the ceilings existed keeps working, its number read as the ceiling."""

from __future__ import annotations

import time

import pytest

from app.store import KeyRecord, open_store
from app.tenancy.keys import digest
from app.tenancy.policy import MAX_RPM, stored_policy
from tests.support import make_client

ADMIN_KEY = "admin-key-of-the-admin-bounds-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

TOO_BIG = [
    ("rpm", {"rpm": 10**26}),
    ("max_concurrent", {"max_concurrent": 10**9}),
    ("max_processes", {"max_processes": 10**9}),
    ("max_sessions", {"max_sessions": 10**12}),
    ("budget_usd", {"budget_usd": 1e308}),
    ("token_budget", {"token_budget": 10**20}),
    ("models", {"models": ["sonnet"] * 1000}),
    ("models[0]", {"models": ["s" * 10_000]}),
    ("mcp_servers", {"mcp_servers": ["a"] * 1000}),
    ("agent.max_turns", {"agent": {"max_turns": 10**9}}),
    ("agent.max_budget_usd", {"agent": {"max_budget_usd": 1e308}}),
    ("agent.workspace_quota_mb", {"agent": {"workspace_quota_mb": 10**15}}),
    ("agent.allowed_domains", {"agent": {"allowed_domains": ["example.com"] * 1000}}),
    ("agent.disallowed_tools", {"agent": {"disallowed_tools": ["Bash"] * 1000}}),
    ("agent.mcp_urls", {"agent": {"mcp_urls": ["https://x/"] * 1000}}),
]


@pytest.mark.parametrize("field, body", TOO_BIG, ids=[field for field, _ in TOO_BIG])
async def test_a_number_or_list_past_its_ceiling_is_a_400_naming_the_field(field, body):
    client, _ = make_client(admin_key=ADMIN_KEY)
    async with client:
        created = await client.post("/admin/keys", json={"name": "x", **body}, headers=ADMIN)
        key = (await client.post("/admin/keys", json={"name": "ok"}, headers=ADMIN)).json()
        changed = await client.patch(f"/admin/keys/{key['id']}", json=body, headers=ADMIN)
        listed = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
    for refused in (created, changed):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == field
        assert field.split(".")[-1].split("[")[0] in refused.json()["error"]["message"]
    assert [k["name"] for k in listed] == ["ok"] and listed[0]["policy"]["rpm"] is None


async def test_the_ceilings_themselves_are_accepted():
    client, _ = make_client(admin_key=ADMIN_KEY)
    body = {"name": "big", "rpm": MAX_RPM, "budget_usd": 10_000_000, "agent": {"max_turns": 1000}}
    async with client:
        created = await client.post("/admin/keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text


async def test_a_key_stored_with_a_number_past_a_ceiling_keeps_working(tmp_path):
    data = tmp_path / "data"
    store = open_store(data)
    secret = "sk-gw-" + "k" * 43
    policy = {"rpm": 10**26, "budget_usd": 1e308, "agent": {"max_turns": 10**9}, "models": None}
    await store.add_key(KeyRecord("gk_old", "old", digest(secret), policy, time.time()))
    store.close()
    assert stored_policy(policy).rpm == MAX_RPM
    client, engine = make_client(admin_key=ADMIN_KEY, data_dir=str(data))
    async with client:
        turn = await client.post(
            "/v1/chat/completions",
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {secret}"},
        )
        renamed = await client.patch("/admin/keys/gk_old", json={"name": "renamed"}, headers=ADMIN)
    assert turn.status_code == 200, turn.text
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["policy"]["rpm"] == MAX_RPM and renamed.json()["policy"]["agent"]["max_turns"] == 1000
