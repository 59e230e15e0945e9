"""Revoking a key (DELETE /admin/keys/{id}) deletes what its tenant left: its uploaded files, its
batches (a running one cancelled first), its stored responses, its stored Claude credential, its
sessions and workspaces; on the embedded SQLite store and on a shared Redis alike. Another key's
things stay, and so does the usage ledger."""

from __future__ import annotations

import sqlite3

import pytest
import redis.asyncio as aioredis

from app.tenancy.keys import tenant_of
from tests.support import make_client

ADMIN_KEY = "admin-key-of-the-revoke-tests-0123456789abcdef"
SECRET_KEY = "secret-key-of-the-revoke-tests-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CREDENTIAL = {"type": "api_key", "value": "sk-ant-api03-stored-credential"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def params(text: str) -> dict:
    return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}


async def leave_things(client, key: str) -> dict[str, str]:
    """A file, a batch, a stored response and a session with a workspace file, as `key`."""
    auth = bearer(key)
    upload = await client.post(
        "/v1/files", files={"file": ("notes.txt", b"mine")}, data={"purpose": "user_data"}, headers=auth
    )
    assert upload.status_code == 200, upload.text
    batch = await client.post(
        "/v1/messages/batches", json={"requests": [{"custom_id": "a", "params": params("x")}]}, headers=auth
    )
    assert batch.status_code == 200, batch.text
    response = await client.post("/v1/responses", json={"model": "sonnet", "input": "hi"}, headers=auth)
    assert response.status_code == 200, response.text
    put = await client.put("/v1/sessions/s1/files/a.txt", content=b"work", headers=auth)
    assert put.status_code == 201, put.text
    return {"file": upload.json()["id"], "batch": batch.json()["id"], "response": response.json()["id"]}


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(request, tmp_path):
    settings = {"admin_key": ADMIN_KEY, "secret_key": SECRET_KEY, "data_dir": str(tmp_path / "data")}
    if request.param == "redis":
        settings["redis_url"] = request.getfixturevalue("redis_url")
    return settings


async def test_revoking_a_key_deletes_its_files_batches_responses_credential_and_workspace(store_settings):
    client, _ = make_client(**store_settings)
    gateway = client._transport.app.state.gateway
    async with client:
        body = {"name": "gone", "agent_mode": True, "claude_credential": CREDENTIAL}
        gone = (await client.post("/admin/keys", json=body, headers=ADMIN)).json()
        kept = (await client.post("/admin/keys", json={"name": "kept", "agent_mode": True}, headers=ADMIN)).json()
        theirs = await leave_things(client, gone["key"])
        ours = await leave_things(client, kept["key"])
        revoked = await client.delete(f"/admin/keys/{gone['id']}", headers=ADMIN)
        assert revoked.status_code == 200, revoked.text
        assert (await client.get("/v1/files", headers=bearer(gone["key"]))).status_code == 401

        tenant = tenant_of(gone["id"])
        assert await gateway.files.list(tenant) == []
        assert await gateway.files.get(tenant, theirs["file"]) is None
        for api in ("anthropic", "openai"):
            assert await gateway.batches.store.listed(tenant, api) == []
        assert await gateway.batches.store.get(theirs["batch"]) is None
        assert await gateway.store.get_response(theirs["response"]) is None
        assert not (gateway.workspaces.root / tenant).exists()
        assert await gateway.sessions.listed(tenant) == []
        # The other key's things are all there.
        other = bearer(kept["key"])
        assert (await client.get(f"/v1/files/{ours['file']}", headers=other)).status_code == 200
        assert (await client.get(f"/v1/messages/batches/{ours['batch']}", headers=other)).status_code == 200
        assert (await client.get(f"/v1/responses/{ours['response']}", headers=other)).status_code == 200
        assert (await client.get("/v1/sessions/s1/files/a.txt", headers=other)).status_code == 200
        # The ledger keeps the revoked key's figures.
        usage = (await client.get("/admin/usage", params={"key_id": gone["id"]}, headers=ADMIN)).json()
        assert usage["total"]["requests"] >= 1, usage

    # Its stored credential is gone from the store itself, not only from the API's view.
    if "redis_url" in store_settings:
        redis = aioredis.Redis.from_url(store_settings["redis_url"])
        fields = await redis.hgetall(f"claude-gateway:key:{gone['id']}")
        await redis.aclose()
        assert b"revoked" in fields and b"credential" not in fields
    else:
        with sqlite3.connect(f"{store_settings['data_dir']}/gateway.db") as db:
            (credential,) = db.execute("select credential from api_keys where id = ?", (gone["id"],)).fetchone()
        assert credential is None
