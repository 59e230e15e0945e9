"""The files API of agent sessions' workspaces, through the app: a round trip, tenants apart,
agent mode required, the quota, bad ids and paths, and a workspace that ends with its session."""

from __future__ import annotations

import os

import pytest

from app.workspaces.workspaces import Workspaces
from tests.support import ask, make_client

ANN, BOB, ADMIN = "ann-key", "bob-key", "admin-key-0123456789abcdef-0123456789"


def auth(key: str = ANN) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def files_client(**settings):
    client, _ = make_client(**{"api_keys": f"{ANN},{BOB}", "agent_mode": True, **settings})
    return client


def workspaces(client) -> Workspaces:
    return client._transport.app.state.gateway.workspaces


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    return body


async def test_upload_list_download_delete():
    async with files_client() as client:
        put = await client.put("/v1/sessions/s1/files/docs/notes.txt", content=b"hello", headers=auth())
        assert put.status_code == 201
        saved = put.json()
        assert saved["object"] == "session.file" and (saved["path"], saved["size"]) == ("docs/notes.txt", 5)
        assert isinstance(saved["modified"], int)
        await client.put("/v1/sessions/s1/files/page.html", content=b"<script>alert(1)</script>", headers=auth())

        listed = (await client.get("/v1/sessions/s1/files", headers=auth())).json()
        assert listed["object"] == "list" and listed["bytes"] == 5 + 25
        assert [(f["object"], f["path"], f["size"]) for f in listed["data"]] == [
            ("session.file", "docs/notes.txt", 5),
            ("session.file", "page.html", 25),
        ]

        got = await client.get("/v1/sessions/s1/files/docs/notes.txt", headers=auth())
        assert got.status_code == 200 and got.content == b"hello"
        assert got.headers["content-length"] == "5" and got.headers["content-type"].startswith("text/plain")
        page = await client.get("/v1/sessions/s1/files/page.html", headers=auth())
        # Never a page of the gateway's own origin.
        assert page.headers["content-disposition"] == "attachment; filename*=UTF-8''page.html"
        assert (
            page.headers["x-content-type-options"] == "nosniff" and page.headers["content-security-policy"] == "sandbox"
        )

        deleted = await client.delete("/v1/sessions/s1/files/docs/notes.txt", headers=auth())
        assert deleted.json() == {"object": "session.file.deleted", "path": "docs/notes.txt", "deleted": True}
        error(await client.get("/v1/sessions/s1/files/docs/notes.txt", headers=auth()), 404, "file_not_found")
        error(await client.delete("/v1/sessions/s1/files/docs/notes.txt", headers=auth()), 404, "file_not_found")
        assert [f["path"] for f in (await client.get("/v1/sessions/s1/files", headers=auth())).json()["data"]] == [
            "page.html"
        ]


async def test_a_streamed_upload_of_any_content_type():
    async def body():
        for _ in range(10):
            yield os.urandom(1000)

    async with files_client() as client:
        put = await client.put(
            "/v1/sessions/s1/files/blob.bin", content=body(), headers={**auth(), "Content-Type": "image/png"}
        )
        assert put.status_code == 201 and put.json()["size"] == 10_000
        got = await client.get("/v1/sessions/s1/files/blob.bin", headers=auth())
        assert len(got.content) == 10_000 and got.headers["content-type"] == "application/octet-stream"


async def test_another_tenant_sees_nothing_of_it():
    async with files_client() as client:
        await client.put("/v1/sessions/shared/files/a.txt", content=b"ann's", headers=auth(ANN))
        error(await client.get("/v1/sessions/shared/files", headers=auth(BOB)), 404, "session_not_found")
        error(await client.get("/v1/sessions/shared/files/a.txt", headers=auth(BOB)), 404, "session_not_found")
        error(await client.delete("/v1/sessions/shared/files/a.txt", headers=auth(BOB)), 404, "session_not_found")
        error(await client.delete("/v1/sessions/shared", headers=auth(BOB)), 404, "session_not_found")
        # Bob's session of the same name is his own workspace.
        await client.put("/v1/sessions/shared/files/a.txt", content=b"bob's", headers=auth(BOB))
        assert (await client.get("/v1/sessions/shared/files/a.txt", headers=auth(ANN))).content == b"ann's"
        assert (await client.get("/v1/sessions/shared/files/a.txt", headers=auth(BOB))).content == b"bob's"
        error(await client.get("/v1/sessions/shared/files", headers={}), 401, "invalid_api_key")


async def test_without_agent_mode_the_files_api_is_refused():
    async with files_client(agent_mode=False) as client:
        for method in ("PUT", "GET", "DELETE"):
            response = await client.request(method, "/v1/sessions/s1/files/a.txt", content=b"x", headers=auth())
            body = error(response, 403, "agent_mode_not_allowed")
            assert body["param"] == "claude_code" and "claude_code" in body["message"]
        error(await client.get("/v1/sessions/s1/files", headers=auth()), 403, "agent_mode_not_allowed")
        assert not any(workspaces(client).root.iterdir())


async def test_a_managed_keys_policy_decides_agent_mode():
    async with files_client(admin_key=ADMIN, agent_mode=True) as client:
        keys = {}
        for name, agent in (("agent", True), ("chat", False)):
            created = await client.post("/admin/keys", json={"name": name, "agent_mode": agent}, headers=auth(ADMIN))
            keys[name] = created.json()["key"]
        assert (
            await client.put("/v1/sessions/s/files/a", content=b"x", headers=auth(keys["agent"]))
        ).status_code == 201
        error(
            await client.put("/v1/sessions/s/files/a", content=b"x", headers=auth(keys["chat"])),
            403,
            "agent_mode_not_allowed",
        )


async def test_uploads_past_the_quota_are_413_and_leave_nothing():
    async def chunked():
        for _ in range(3):
            yield b"x" * 500_000

    async with files_client(workspace_quota_mb=1) as client:
        for content in (b"x" * 1_500_000, chunked()):
            response = await client.put("/v1/sessions/s1/files/big.bin", content=content, headers=auth())
            body = error(response, 413, "workspace_quota_exceeded")
            assert "0 bytes" in body["message"] and str(1024 * 1024) in body["message"]
            error(await client.get("/v1/sessions/s1/files", headers=auth()), 404, "session_not_found")
        await client.put("/v1/sessions/s1/files/a.bin", content=b"x" * 1_000_000, headers=auth())
        response = await client.put("/v1/sessions/s2/files/b.bin", content=chunked(), headers=auth())
        error(response, 413, "workspace_quota_exceeded")
        assert [f["path"] for f in (await client.get("/v1/sessions/s1/files", headers=auth())).json()["data"]] == [
            "a.bin"
        ]
        error(await client.get("/v1/sessions/s2/files", headers=auth()), 404, "session_not_found")


async def test_an_upload_past_the_body_limit_is_413():
    async with files_client(max_body_bytes=2048) as client:
        response = await client.put("/v1/sessions/s1/files/a.bin", content=b"x" * 4096, headers=auth())
        error(response, 413, "request_too_large")


@pytest.mark.parametrize("session", ["bad%20id", "a" * 129, "%C3%A9", "a%00b"])
async def test_a_bad_session_id_is_400(session):
    async with files_client() as client:
        for method in ("PUT", "GET", "DELETE"):
            response = await client.request(method, f"/v1/sessions/{session}/files/a.txt", content=b"x", headers=auth())
            assert error(response, 400, "invalid_value")["param"] == "session_id"
        response = await client.get(f"/v1/sessions/{session}/files", headers=auth())
        assert error(response, 400, "invalid_value")["param"] == "session_id"
        assert not any(workspaces(client).root.iterdir())


# The workspace is <tmp>/gateway-data/workspaces/<tenant>/<session>: four levels up is <tmp>.
VICTIM = "victim.txt"
BAD_PATHS = [
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/victim.txt",
    "a/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/victim.txt",
    "%2E%2E/%2E%2E/%2E%2E/%2E%2E/victim.txt",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fvictim.txt",
    "{tmp}/victim.txt",  # absolute (the route receives it after one slash: //tmp/...)
    "%2F{tmp}/victim.txt",
    "a%00b",
    "a%5c..%5c..%5cb",
    "a//b",
    "a/",
    "",
    ".claude/settings.json",
    "x" * 1025,
]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_a_bad_path_is_400_and_reaches_nothing(path, tmp_path):
    path = path.format(tmp=str(tmp_path).lstrip("/") if path.startswith("%2F") else tmp_path)
    async with files_client() as client:
        await client.put("/v1/sessions/s1/files/ok.txt", content=b"ok", headers=auth())
        for method in ("PUT", "GET", "DELETE"):
            response = await client.request(method, f"/v1/sessions/s1/files/{path}", content=b"x", headers=auth())
            assert error(response, 400, "invalid_path")["param"] == "path"
        listed = (await client.get("/v1/sessions/s1/files", headers=auth())).json()["data"]
        assert [f["path"] for f in listed] == ["ok.txt"]
    assert not (tmp_path / VICTIM).exists()


async def test_a_link_planted_in_the_workspace_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    async with files_client() as client:
        await client.put("/v1/sessions/s1/files/ok.txt", content=b"ok", headers=auth())
        root = workspaces(client).root
        workspace = next(p for tenant in root.iterdir() for p in tenant.iterdir())
        (workspace / "out").symlink_to(outside)  # as Claude's Bash could
        for method in ("GET", "PUT", "DELETE"):
            response = await client.request(
                method, "/v1/sessions/s1/files/out/secret.txt", content=b"x", headers=auth()
            )
            error(response, 400, "invalid_path")
        listed = (await client.get("/v1/sessions/s1/files", headers=auth())).json()["data"]
        assert [f["path"] for f in listed] == ["ok.txt"]
    assert [p.name for p in outside.iterdir()] == ["secret.txt"] and (outside / "secret.txt").read_text() == "secret"


async def test_an_unknown_session_is_404_and_a_live_one_without_files_lists_none():
    async with files_client() as client:
        error(await client.get("/v1/sessions/nope/files", headers=auth()), 404, "session_not_found")
        error(await client.get("/v1/sessions/nope/files/a.txt", headers=auth()), 404, "session_not_found")
        error(await client.delete("/v1/sessions/nope/files/a.txt", headers=auth()), 404, "session_not_found")
        turn = await client.post("/v1/chat/completions", json=ask("hi"), headers={**auth(), "X-Session-Id": "chat"})
        assert turn.status_code == 200
        listed = await client.get("/v1/sessions/chat/files", headers=auth())
        assert listed.json() == {"object": "list", "data": [], "bytes": 0}
        error(await client.get("/v1/sessions/chat/files/a.txt", headers=auth()), 404, "file_not_found")


async def test_deleting_the_session_deletes_its_workspace():
    async with files_client() as client:
        # A session that ran a turn, and one that only has files (uploaded before any turn).
        await client.post("/v1/chat/completions", json=ask("hi"), headers={**auth(), "X-Session-Id": "chat"})
        for session in ("chat", "files-only"):
            await client.put(f"/v1/sessions/{session}/files/a.txt", content=b"x", headers=auth())
            deleted = await client.delete(f"/v1/sessions/{session}", headers=auth())
            assert deleted.json() == {"id": session, "object": "session.deleted", "deleted": True}
            error(await client.get(f"/v1/sessions/{session}/files", headers=auth()), 404, "session_not_found")
            error(await client.delete(f"/v1/sessions/{session}", headers=auth()), 404, "session_not_found")


async def test_a_revoked_keys_workspaces_go():
    async with files_client(admin_key=ADMIN) as client:
        created = (await client.post("/admin/keys", json={"name": "k", "agent_mode": True}, headers=auth(ADMIN))).json()
        await client.put("/v1/sessions/s/files/a.txt", content=b"x", headers=auth(created["key"]))
        assert workspaces(client).exists(f"key-{created['id']}", "s")
        await client.delete(f"/admin/keys/{created['id']}", headers=auth(ADMIN))
        assert not workspaces(client).exists(f"key-{created['id']}", "s")


async def test_a_workspace_outlives_a_gateway_restart():
    async with files_client() as client:
        await client.put("/v1/sessions/s1/files/kept.txt", content=b"kept", headers=auth())
    async with files_client() as restarted:  # the same data folder, a new app
        assert (await restarted.get("/v1/sessions/s1/files/kept.txt", headers=auth())).content == b"kept"
