"""A workspace nested deeper than the gateway has descriptors (an agent made 21,000 folders) is
removed by DELETE /v1/sessions/{id}, by revoking its key and by the sweep: each answered 500
"Too many open files" while removal held a descriptor per level. Here RLIMIT_NOFILE is lowered
to just above what is open, and the tree is deeper than that (a few seconds of rmdir on disk)."""

from __future__ import annotations

import os
import resource
import time

import pytest

from app.tenancy.auth import key_tenant
from tests.support import make_client
from tests.unit.test_workspace_tree import nest

ANN, ADMIN = "ann-key", "admin-key-of-the-deep-workspace-tests-0123456789"
LEVELS = 600


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def few_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 300, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def deep_session(client, key: str, tenant: str, session: str):
    """A session's workspace (made by an upload) with LEVELS nested folders in it."""
    put = await client.put(f"/v1/sessions/{session}/files/a.txt", content=b"x", headers=auth(key))
    assert put.status_code == 201, put.text
    folder = client._transport.app.state.gateway.workspaces.path(tenant, session)
    os.close(nest(folder, LEVELS))
    return folder


async def test_a_deep_workspace_goes_with_its_session_and_its_key(few_descriptors):
    client, _ = make_client(api_keys=ANN, admin_key=ADMIN, agent_mode=True)
    async with client:
        folder = await deep_session(client, ANN, key_tenant(ANN).id, "deep")
        deleted = await client.delete("/v1/sessions/deep", headers=auth(ANN))
        assert deleted.status_code == 200, deleted.text
        assert not folder.exists()

        created = await client.post("/admin/keys", json={"name": "k", "agent_mode": True}, headers=auth(ADMIN))
        key, tenant = created.json()["key"], f"key-{created.json()['id']}"
        folder = await deep_session(client, key, tenant, "deep")
        revoked = await client.delete(f"/admin/keys/{created.json()['id']}", headers=auth(ADMIN))
        assert revoked.status_code == 200, revoked.text
        assert not folder.exists() and not folder.parent.exists()


async def test_the_sweep_removes_a_deep_expired_workspace(few_descriptors):
    client, _ = make_client(api_keys=ANN, agent_mode=True)
    async with client:
        folder = await deep_session(client, ANN, key_tenant(ANN).id, "deep")
        workspaces = client._transport.app.state.gateway.workspaces
        time.sleep(0.01)
        assert workspaces.sweep(0.001, set()) == 1
        assert not folder.exists()
        assert workspaces.usage(key_tenant(ANN).id) == 0
