"""Forking an agent session copies its workspace (POST /v1/sessions/{id}/fork), on the real engine
driving the fake CLI: the copy counts in the key's workspace quota, takes no FIFO, socket or
device, and a fork that fails leaves nothing behind, so its id stays free."""

from __future__ import annotations

import os
import stat

import pytest

from app.tenancy.auth import key_tenant
from app.workspaces.workspaces import Workspaces
from tests.support import ask

ANN = {"Authorization": "Bearer ann-key"}


def workspaces(client) -> Workspaces:
    return client._transport.app.state.gateway.workspaces


async def agent_session(client, session: str, files: dict[str, bytes]) -> None:
    """A session that ran a turn, with these files uploaded to its workspace."""
    turn = await client.post("/v1/chat/completions", json=ask("hi"), headers={**ANN, "X-Session-Id": session})
    assert turn.status_code == 200, turn.text
    for path, content in files.items():
        put = await client.put(f"/v1/sessions/{session}/files/{path}", content=content, headers=ANN)
        assert put.status_code == 201, put.text


async def listed(client, session: str) -> dict[str, int]:
    response = await client.get(f"/v1/sessions/{session}/files", headers=ANN)
    assert response.status_code == 200, response.text
    return {file["path"]: file["size"] for file in response.json()["data"]}


async def test_forks_past_the_quota_are_413_and_leave_nothing(gateway):
    client, _, _ = await gateway(api_keys="ann-key", agent_mode=True, workspace_quota_mb=1)
    await agent_session(client, "src", {"big.bin": b"x" * 900_000})
    for attempt in range(5):
        forked = await client.post("/v1/sessions/src/fork", json={"id": f"copy{attempt}"}, headers=ANN)
        assert forked.status_code == 413, forked.text
        error = forked.json()["error"]
        assert error["code"] == "workspace_quota_exceeded" and "900000 bytes" in error["message"], error
        missing = await client.get(f"/v1/sessions/copy{attempt}", headers=ANN)
        assert missing.status_code == 404, missing.text
    assert workspaces(client).usage(_tenant(client)) == 900_000


async def test_a_fork_within_the_quota_copies_the_workspace(gateway):
    client, _, _ = await gateway(api_keys="ann-key", agent_mode=True, workspace_quota_mb=1)
    await agent_session(client, "src", {"a.txt": b"a" * 400_000, "deep/b.txt": b"b"})
    forked = await client.post("/v1/sessions/src/fork", json={"id": "copy"}, headers=ANN)
    assert forked.status_code == 201, forked.text
    assert await listed(client, "copy") == {"a.txt": 400_000, "deep/b.txt": 1}
    again = await client.post("/v1/sessions/src/fork", json={"id": "copy2"}, headers=ANN)
    assert again.status_code == 413 and again.json()["error"]["code"] == "workspace_quota_exceeded"


@pytest.mark.parametrize("special", ["fifo", "socket"])
async def test_a_fork_skips_special_files(gateway, special):
    client, _, _ = await gateway(api_keys="ann-key", agent_mode=True)
    await agent_session(client, "src", {"kept.txt": b"kept"})
    folder = workspaces(client).path(_tenant(client), "src")
    if special == "fifo":
        os.mkfifo(folder / "pipe")
    else:
        os.mknod(folder / "pipe", stat.S_IFSOCK | 0o600)  # what bind() leaves
    (folder / "link").symlink_to("/etc/hostname")
    forked = await client.post("/v1/sessions/src/fork", json={"id": "copy"}, headers=ANN)
    assert forked.status_code == 201, forked.text
    copy = workspaces(client).path(_tenant(client), "copy")
    assert sorted(os.listdir(copy)) == ["kept.txt", "link"]
    assert os.readlink(copy / "link") == "/etc/hostname"  # a link stays a link, not followed
    assert (copy / "kept.txt").read_bytes() == b"kept"


async def test_a_failed_fork_leaves_no_half_made_session(gateway):
    client, engine, _ = await gateway(api_keys="ann-key", agent_mode=True)
    await agent_session(client, "src", {"kept.txt": b"kept"})
    broken = engine.fork_conversation

    def failing(*args, **kwargs):
        raise OSError("the disk is gone")

    engine.fork_conversation = failing
    with pytest.raises(OSError):  # the app's 500, as the in-process transport raises it
        await client.post("/v1/sessions/src/fork", json={"id": "copy"}, headers=ANN)
    assert (await client.get("/v1/sessions/copy", headers=ANN)).status_code == 404
    assert not workspaces(client).exists(_tenant(client), "copy")
    engine.fork_conversation = broken
    forked = await client.post("/v1/sessions/src/fork", json={"id": "copy"}, headers=ANN)
    assert forked.status_code == 201, forked.text  # not 409: the id is free again
    assert await listed(client, "copy") == {"kept.txt": 4}


async def test_a_fork_onto_an_id_with_uploaded_files_is_409(gateway):
    client, _, _ = await gateway(api_keys="ann-key", agent_mode=True)
    await agent_session(client, "src", {"a.txt": b"a"})
    put = await client.put("/v1/sessions/taken/files/mine.txt", content=b"mine", headers=ANN)
    assert put.status_code == 201, put.text
    clash = await client.post("/v1/sessions/src/fork", json={"id": "taken"}, headers=ANN)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "session_exists", clash.text
    assert await listed(client, "taken") == {"mine.txt": 4}


def _tenant(client) -> str:
    """The tenant of ann-key (a static key)."""
    return key_tenant("ann-key").id
