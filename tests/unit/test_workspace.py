"""Agent workspaces on disk: client paths stay inside, links are never followed, the sandbox's
decoys are hidden, a tenant's quota holds, and expired workspaces go."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import pytest

from app.core.disk import tree
from app.core.disk.workdir import UnsafeWorkDir
from app.core.errors import GatewayError
from app.tenancy.auth import Tenant
from app.tenancy.policy import Policy
from app.workspaces.folders import digest
from app.workspaces.paths import delete_file, open_file, parts
from app.workspaces.workspaces import DECOYS, Workspaces

ANN = Tenant("key-ann")
BOB = Tenant("key-bob")


@pytest.fixture
def spaces(tmp_path) -> Workspaces:
    return Workspaces(tmp_path / "data" / "workspaces", quota_mb=1)


@pytest.fixture
def outside(tmp_path):
    """A folder beside the workspaces, with a secret in it: nothing may reach or change it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


async def chunks(*parts: bytes):
    for part in parts:
        yield part


def upload(spaces: Workspaces, path: str, *data: bytes, tenant: Tenant = ANN, session: str = "s1", declared=None):
    return asyncio.run(spaces.upload(tenant, session, path, chunks(*data), declared, 10 * 1024 * 1024))


def refused(call, code: str = "invalid_path", status: int = 400) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    return caught.value


def snapshot(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BAD_PATHS = [
    "",
    "/etc/passwd",
    "//etc/passwd",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    "..\\x",
    "a\\..\\..\\x",
    "a\0b",
    "a\nb",
    "x" * 1025,
    "n" * 256,
    "/".join(["d"] * 65),
    ".claude/settings.json",
    ".claude",
    ".gateway-upload-0123",
    "bad\udc80name",
]


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_a_bad_client_path_is_refused(path):
    error = refused(lambda: parts(path))
    assert error.param == "path"


@pytest.mark.parametrize("path", ["a.txt", "docs/b/c.md", "...", "a..b", ".hidden", "%2e%2e", "sub/.claude/x", "é"])
def test_plain_relative_paths_are_accepted(path):
    assert parts(path) == path.split("/")


@pytest.mark.parametrize("path", ["../outside/secret.txt", "a/../../../outside/x", "/etc/passwd"])
def test_a_bad_path_reaches_nothing_and_makes_no_workspace(spaces, outside, path):
    refused(lambda: upload(spaces, path, b"x"))
    assert snapshot(outside) == {"secret.txt": b"secret"}
    assert not spaces.exists(ANN.id, "s1")


def test_the_folder_is_named_by_digests_private_and_the_same_after_a_restart(spaces, tmp_path):
    path = spaces.open(ANN.id, "s1")
    assert path == spaces.root / digest(ANN.id) / digest(f"{ANN.id}\0s1")
    assert len(path.name) == len(path.parent.name) == 32
    assert stat.S_IMODE(os.lstat(path).st_mode) == stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(spaces.root).st_mode) == 0o700
    assert spaces.path(BOB.id, "s1") != path  # the same session id of another tenant
    assert Workspaces(tmp_path / "data" / "workspaces", 1).path(ANN.id, "s1") == path


def test_a_workspaces_root_others_can_write_is_refused(tmp_path):
    root = tmp_path / "workspaces"
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    with pytest.raises(UnsafeWorkDir, match="workspaces folder .* writable by other users"):
        Workspaces(root, 1)


def test_an_upload_is_written_private_and_read_back(spaces):
    saved = upload(spaces, "docs/notes.txt", b"hello ", b"world")
    assert (saved.path, saved.size) == ("docs/notes.txt", 11)
    workspace = spaces.path(ANN.id, "s1")
    assert stat.S_IMODE(os.lstat(workspace / "docs").st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(workspace / "docs" / "notes.txt").st_mode) == 0o600
    fd, info = open_file(workspace, "docs/notes.txt")
    with os.fdopen(fd, "rb") as file:
        assert file.read() == b"hello world" and info.st_size == 11
    upload(spaces, "docs/notes.txt", b"replaced")
    assert (workspace / "docs" / "notes.txt").read_bytes() == b"replaced"
    assert [f.path for f in spaces.list(workspace)] == ["docs/notes.txt"]  # no temp file left
    delete_file(workspace, "docs/notes.txt")
    assert spaces.list(workspace) == []
    refused(lambda: open_file(workspace, "docs/notes.txt"), "file_not_found", 404)
    refused(lambda: delete_file(workspace, "docs/notes.txt"), "file_not_found", 404)


def test_links_to_a_folder_or_file_outside_are_never_followed(spaces, outside):
    upload(spaces, "mine.txt", b"mine")
    workspace = spaces.path(ANN.id, "s1")
    (workspace / "dir_link").symlink_to(outside)
    (workspace / "file_link").symlink_to(outside / "secret.txt")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "deep_link").symlink_to(outside)
    before = snapshot(outside)

    for path in ("dir_link/secret.txt", "file_link", "sub/deep_link/secret.txt"):
        refused(lambda path=path: open_file(workspace, path))  # read
        refused(lambda path=path: upload(spaces, path, b"overwritten"))  # write
        refused(lambda path=path: delete_file(workspace, path))  # delete
    refused(lambda: upload(spaces, "dir_link/new.txt", b"planted"))
    refused(lambda: upload(spaces, "sub/deep_link/a/b.txt", b"planted"))

    assert [f.path for f in spaces.list(workspace)] == ["mine.txt"]  # listed: neither links nor what they name
    assert spaces.usage(ANN.id) == 4
    assert snapshot(outside) == before
    assert (workspace / "file_link").is_symlink() and (workspace / "dir_link").is_symlink()


def test_a_hard_link_and_a_fifo_are_not_served(spaces, outside):
    workspace = spaces.open(ANN.id, "s1")
    os.link(outside / "secret.txt", workspace / "hard")
    refused(lambda: open_file(workspace, "hard"))
    os.mkfifo(workspace / "fifo")  # opening it for reading must not wait for a writer
    refused(lambda: open_file(workspace, "fifo"), "file_not_found", 404)
    (workspace / "folder").mkdir()
    refused(lambda: open_file(workspace, "folder"), "file_not_found", 404)
    refused(lambda: upload(spaces, "folder", b"x"))
    assert (outside / "secret.txt").read_text() == "secret"


def test_the_sandboxs_empty_decoys_and_claude_codes_folder_are_hidden(spaces):
    workspace = spaces.open(ANN.id, "s1")
    for name in DECOYS:
        (workspace / name).write_bytes(b"")
    (workspace / "node_modules" / ".bin").mkdir(parents=True)
    (workspace / ".claude").mkdir()
    (workspace / ".claude" / "settings.local.json").write_text("{}")
    (workspace / ".env.local").write_text("KEY=value")  # not empty: a real file
    (workspace / "empty.txt").write_bytes(b"")  # empty, but not a decoy's name
    (workspace / "app").mkdir()
    (workspace / "app" / "package.json").write_bytes(b"")  # a decoy's name, not where the sandbox puts them
    assert [f.path for f in spaces.list(workspace)] == [".env.local", "app/package.json", "empty.txt"]


def test_uploads_past_the_tenants_quota_are_refused_and_leave_nothing(spaces):
    upload(spaces, "a.bin", b"a" * 600_000, session="one")
    upload(spaces, "a.bin", b"b" * 600_000, session="one")  # replacing: counted once
    streamed = refused(
        lambda: upload(spaces, "b.bin", b"c" * 300_000, b"c" * 300_000, session="two"), "workspace_quota_exceeded", 413
    )
    assert "600000" in streamed.message and str(1024 * 1024) in streamed.message
    refused(lambda: upload(spaces, "b.bin", b"c", session="two", declared=600_000), "workspace_quota_exceeded", 413)
    assert not spaces.exists(ANN.id, "two")  # the workspace made for the upload went with it
    assert [f.path for f in spaces.list(spaces.path(ANN.id, "one"))] == ["a.bin"]
    assert spaces.usage(ANN.id) == 600_000
    upload(spaces, "b.bin", b"c" * 600_000, tenant=BOB, session="two")  # another tenant's quota


def test_an_upload_past_the_body_limit_is_refused(spaces):
    streamed = spaces.upload(ANN, "s1", "a.bin", chunks(b"x" * 1000, b"x" * 2000), None, 2048)
    refused(lambda: asyncio.run(streamed), "request_too_large", 413)
    declared = spaces.upload(ANN, "s1", "a.bin", chunks(b"x"), 4096, 2048)
    refused(lambda: asyncio.run(declared), "request_too_large", 413)
    assert not spaces.exists(ANN.id, "s1")


def test_a_keys_policy_sets_its_own_quota(spaces):
    tenant = Tenant("key-x", policy=Policy.model_validate({"agent": {"workspace_quota_mb": 0}}))
    refused(lambda: upload(spaces, "a.txt", b"x", tenant=tenant), "workspace_quota_exceeded", 413)


def age(folder, seconds: float) -> None:
    """Make everything in `folder` (and it) look last changed `seconds` ago."""
    then = time.time() - seconds
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (then, then), follow_symlinks=False)


def test_the_sweep_removes_expired_workspaces_only(spaces, outside):
    old, live, fresh, busy, dated = (spaces.open(ANN.id, name) for name in ("old", "live", "fresh", "busy", "dated"))
    for workspace in (old, live, busy, dated):
        (workspace / "sub").mkdir()
        (workspace / "sub" / "f.txt").write_text("x")
        (workspace / "out").symlink_to(outside)
        age(workspace, 100)
    os.utime(busy / "sub" / "f.txt")  # Claude wrote in it just now
    future = time.time() + 10 * 365 * 86400
    os.utime(dated / "sub" / "f.txt", (future, future))  # `touch -d 2036`: not believed
    assert spaces.sweep(50, live={live}) == 2
    assert not old.exists() and not dated.exists()
    assert live.exists() and fresh.exists() and busy.exists()
    assert snapshot(outside) == {"secret.txt": b"secret"}


def test_a_tenants_empty_folder_goes_once_old(spaces):
    workspace = spaces.open(ANN.id, "s1")
    age(workspace.parent, 100)
    assert spaces.sweep(50, set()) == 1
    assert not workspace.parent.exists()


def test_remove_takes_unwritable_and_very_deep_trees(spaces, outside):
    workspace = spaces.open(ANN.id, "s1")
    locked = workspace / "locked"
    locked.mkdir()
    (locked / "f").write_text("x")
    locked.chmod(0o500)
    fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1200):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.symlink(str(outside), "out", dir_fd=fd)
    os.close(fd)
    (workspace / "out").symlink_to(outside)
    outside.chmod(0o555)
    assert spaces.remove(ANN.id, "s1") is True
    assert not workspace.exists() and snapshot(outside) == {"secret.txt": b"secret"}
    assert stat.S_IMODE(os.lstat(outside).st_mode) == 0o555  # not made writable through the link
    outside.chmod(0o755)
    assert spaces.remove(ANN.id, "s1") is False


def test_a_listing_stops_at_its_depth_and_the_quota_counts_all(spaces):
    workspace = spaces.open(ANN.id, "s1")
    deep = workspace / "/".join(["d"] * (tree.MAX_DEPTH + 5))
    deep.mkdir(parents=True)
    (deep / "f").write_text("hidden below the listing")
    (workspace / "top.txt").write_text("x")
    assert max(len(folders) for folders, _, _ in tree.walk(workspace, tree.MAX_DEPTH)) == tree.MAX_DEPTH
    assert [file.path for file in spaces.list(workspace)] == ["top.txt"]
    assert spaces.usage(ANN.id) == 1 + len("hidden below the listing")  # not out of the quota's sight
