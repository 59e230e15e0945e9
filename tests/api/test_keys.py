"""Managed keys through the admin API, on the real engine with the fake CLI: created (shown once),
listed without secrets, validated in OpenAI's envelope, stored hashed, revoked at once, and kept
across a restart."""

from __future__ import annotations

import sqlite3

from app.store import open_store
from app.tenancy.keys import KeyService
from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(client, **body) -> dict:
    response = await client.post("/admin/keys", json={"name": "team", **body}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_created_key_is_shown_once_and_works(gateway, data_dir):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await new_key(client, models=["sonnet"], rpm=10)
    assert created["key"].startswith("sk-gw-") and created["id"].startswith("gk_")
    assert created["policy"]["models"] == ["sonnet"] and created["policy"]["rpm"] == 10
    listed = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and "digest" not in listed[0]
    one = (await client.get(f"/admin/keys/{created['id']}", headers=ADMIN)).json()
    assert one["name"] == "team" and "key" not in one
    # Stored hashed: the key itself is nowhere in the database.
    database = (data_dir / "gateway.db").read_bytes() + b"".join(p.read_bytes() for p in data_dir.glob("*-wal"))
    assert created["key"].encode() not in database

    response = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(created["key"]))
    assert response.status_code == 200, response.text


async def test_an_admin_key_makes_the_gateway_keyed(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key")
    assert (await client.post("/v1/chat/completions", json=ask("hi"))).status_code == 401
    unknown = await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer("sk-gw-nope"))
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_api_key"
    # A GATEWAY_API_KEYS key keeps working, without limits.
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer("static-key"))).status_code == 200
    # The admin API wants the admin key.
    assert (await client.get("/admin/keys", headers=bearer("static-key"))).status_code == 401


async def test_the_admin_api_is_off_without_an_admin_key(gateway):
    client, _, _ = await gateway(api_keys="static-key")
    response = await client.get("/admin/keys", headers=bearer("static-key"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_api_disabled"


async def test_bad_policies_get_a_clear_400_in_openais_envelope(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    for body, param in [
        ({"rpm": 0, "name": "x"}, "rpm"),
        ({"budget_period": "week", "name": "x"}, "budget_period"),
        ({"models": "sonnet", "name": "x"}, "models"),
        ({"rpm": 1}, "name"),
        ({"name": "x", "limit": 3}, "limit"),
    ]:
        response = await client.post("/admin/keys", json=body, headers=ADMIN)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and param in (error["param"] or ""), error
    missing = await client.patch("/admin/keys/gk_nope", json={"rpm": 3}, headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "key_not_found"


async def test_patch_changes_and_lifts_limits(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await new_key(client, rpm=5, budget_usd=1.5)
    patched = await client.patch(f"/admin/keys/{created['id']}", json={"rpm": None, "max_sessions": 2}, headers=ADMIN)
    assert patched.status_code == 200, patched.text
    policy = patched.json()["policy"]
    assert policy["rpm"] is None and policy["max_sessions"] == 2 and policy["budget_usd"] == 1.5


async def test_a_credential_is_refused_without_the_secret_and_stored_encrypted_with_it(gateway, data_dir):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    credential = {"type": "api_key", "value": "sk-ant-owner-credential"}
    refused = await client.post("/admin/keys", json={"name": "x", "claude_credential": credential}, headers=ADMIN)
    assert refused.status_code == 400 and "GATEWAY_SECRET_KEY" in refused.json()["error"]["message"]

    client, _, settings = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", secret_key="server-secret-0123456789abcdef-0123456789"
    )
    created = await new_key(client, claude_credential=credential)
    assert created["has_claude_credential"] is True and "sk-ant-owner" not in str(created)
    with sqlite3.connect(data_dir / "gateway.db") as db:
        stored = db.execute("select credential from api_keys").fetchone()[0]
    assert stored and "sk-ant-owner-credential" not in stored
    # The resolved caller carries it, decrypted, for the engine to run its turns with.
    tenant = await KeyService(settings, open_store(data_dir)).tenant(created["key"])
    assert tenant.credential is not None and tenant.credential.value == "sk-ant-owner-credential"
    assert tenant.credential.type == "api_key" and "sk-ant" not in repr(tenant)


async def test_revoking_a_key_ends_its_sessions_and_its_next_request_gets_401(gateway):
    client, engine, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await new_key(client)
    other = await new_key(client)
    headers = {**bearer(created["key"]), "X-Session-Id": "mine"}
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=headers)).status_code == 200
    theirs = {**bearer(other["key"]), "X-Session-Id": "theirs"}
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=theirs)).status_code == 200
    assert "mine" in [s.id for s in engine_sessions(client)]

    assert (await client.delete(f"/admin/keys/{created['id']}", headers=ADMIN)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=headers)).status_code == 401
    assert [s.id for s in engine_sessions(client)] == ["theirs"]
    assert len(engine.conversations) == 1  # the revoked key's conversation (and process) ended
    assert (await client.get(f"/admin/keys/{created['id']}", headers=ADMIN)).status_code == 404


async def test_keys_survive_a_restart(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await new_key(client, rpm=7)
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789"
    )  # a second app on the same data folder
    assert (await client.get(f"/admin/keys/{created['id']}", headers=ADMIN)).json()["policy"]["rpm"] == 7
    assert (
        await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(created["key"]))
    ).status_code == 200


def engine_sessions(client):
    gateway = client._transport.app.state.gateway
    return [s for s in gateway.sessions.registry._sessions.values()]


async def test_a_stored_credential_that_cannot_be_decrypted_refuses_turns_never_serving_the_operators(gateway):
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", secret_key="first-secret-0123456789abcdef-0123456789"
    )
    created = await new_key(client, claude_credential={"type": "api_key", "value": "sk-ant-owner-credential"})
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", secret_key="another-secret-0123456789abcdef-0123456789"
    )  # the secret changed
    turn = await client.post("/v1/messages", json=anthropic_ask("hi"), headers=bearer(created["key"]))
    assert turn.status_code == 503, turn.text
    assert turn.json()["type"] == "error"  # Anthropic's envelope
    assert "GATEWAY_SECRET_KEY" in turn.json()["error"]["message"]
    # Its other routes still answer: the key itself is fine.
    assert (await client.get("/v1/usage", headers=bearer(created["key"]))).status_code == 200


def anthropic_ask(text: str) -> dict:
    return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
