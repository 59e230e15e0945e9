"""The data folder (GATEWAY_DATA_DIR) is private: the gateway refuses to start in one that others
can write, that is a link or that another user owns (as it does for its work folder), and the
SQLite database it writes there, with its -wal and -shm files, is 0600 (it was 0644)."""

from __future__ import annotations

import os
import stat

import pytest

from app.core.disk.workdir import UnsafeWorkDir
from tests.support import ask, make_client


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("folder_mode", [0o777, 0o775, 0o757])
def test_a_data_folder_others_can_write_stops_the_start(tmp_path, folder_mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(folder_mode)
    with pytest.raises(UnsafeWorkDir, match="GATEWAY_DATA_DIR .* writable by other users"):
        make_client(data_dir=str(shared))
    assert list(shared.iterdir()) == []


def test_a_data_folder_that_is_a_link_stops_the_start(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UnsafeWorkDir, match="GATEWAY_DATA_DIR .* symbolic link"):
        make_client(data_dir=str(tmp_path / "link"))


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder another user owns needs root")
def test_a_data_folder_of_another_user_stops_the_start(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(UnsafeWorkDir, match="GATEWAY_DATA_DIR .* another user"):
        make_client(data_dir=str(theirs))


async def test_the_database_and_its_side_files_are_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # readable by others is allowed; only writable is refused
    old = os.umask(0o022)
    try:
        client, _ = make_client(data_dir=str(data), admin_key="admin-key-0123456789abcdef0123456789")
        async with client:
            created = await client.post(
                "/admin/keys",
                json={"name": "k"},
                headers={"Authorization": "Bearer admin-key-0123456789abcdef0123456789"},
            )
            assert created.status_code == 201, created.text
            turn = await client.post(
                "/v1/chat/completions", json=ask("hi"), headers={"Authorization": f"Bearer {created.json()['key']}"}
            )
            assert turn.status_code == 200, turn.text
            written = sorted(name for name in os.listdir(data) if name.startswith("gateway.db"))
            assert "gateway.db" in written and "gateway.db-wal" in written, written
            assert {name: mode(data / name) for name in written} == {name: 0o600 for name in written}
    finally:
        os.umask(old)


def test_an_existing_database_is_made_private_at_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    for name in ("gateway.db", "gateway.db-wal"):
        (data / name).touch(mode=0o644)
        (data / name).chmod(0o644)
    make_client(data_dir=str(data))
    assert mode(data / "gateway.db") == 0o600 and mode(data / "gateway.db-wal") == 0o600
