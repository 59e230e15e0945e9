"""The gateway's folders and files: private, never planted, never followed, cleaned after a crash."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from app.core.disk.workdir import GatewayFolder, UnsafeWorkDir, check_root, write_private
from app.core.messages import Message
from app.engine.transcripts.local import project_dir, remove_transcripts_under, write_transcript
from tests.support import ROOT


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("bad_mode", [0o777, 0o775, 0o757, 0o1777])
def test_a_folder_others_can_write_is_refused(tmp_path, bad_mode):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(bad_mode)
    with pytest.raises(UnsafeWorkDir, match="writable by other users"):
        check_root(root)
    with pytest.raises(UnsafeWorkDir):
        GatewayFolder(root).open()
    assert list(root.iterdir()) == []


def test_a_symbolic_link_as_the_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UnsafeWorkDir, match="symbolic link"):
        check_root(tmp_path / "link")


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder another user owns needs root")
def test_a_folder_of_another_user_is_refused(tmp_path):
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)
    with pytest.raises(UnsafeWorkDir, match="another user"):
        check_root(root)


def test_a_missing_folder_is_created_private(tmp_path):
    root = tmp_path / "a" / "b"
    assert check_root(root) == root.resolve()
    assert mode(tmp_path / "a") == 0o700 and mode(root) == 0o700


def test_each_gateway_gets_its_own_private_folder(tmp_path):
    root = tmp_path / "root"
    root.mkdir(mode=0o755)  # not writable by others: accepted
    first, second = GatewayFolder(root), GatewayFolder(root)
    one, two = first.open(), second.open()
    assert one != two and one.parent == two.parent == root.resolve()
    assert mode(one) == mode(two) == 0o700
    conversation = first.new_folder()
    assert conversation.parent == one and mode(conversation) == 0o700
    first.close()
    assert not one.exists() and two.exists()  # a live sibling is never touched
    second.close()


def test_without_a_configured_folder_each_gateway_has_a_private_temp_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    gateway = GatewayFolder(None)
    own = gateway.open()
    assert own.parent == tmp_path.resolve() and mode(own) == 0o700 and own.name.startswith("claude-gateway-")
    gateway.close()


def test_a_dead_gateways_folder_goes_and_a_live_ones_stays(tmp_path):
    root, config = tmp_path / "root", tmp_path / "config"
    root.mkdir(mode=0o700)
    live = GatewayFolder(root)
    live_path = live.open()
    # A gateway process that died without cleaning up (the lock goes with the process).
    code = (
        "import sys; from pathlib import Path; from app.core.disk.workdir import GatewayFolder; "
        "g = GatewayFolder(Path(sys.argv[1])); p = g.open(); (p / 'conv').mkdir(); print(p)"
    )
    dead_path = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    for folder in (live_path, dead_path):
        write_transcript(config, os.path.join(folder, "conv"), [Message("user", [{"type": "text", "text": "hi"}])])
    removed = []
    fresh = GatewayFolder(root)
    fresh.open(on_dead_sibling=lambda folder: (removed.append(str(folder)), remove_transcripts_under(config, folder)))
    assert removed == [dead_path]
    assert not os.path.exists(dead_path) and not project_dir(config, os.path.join(dead_path, "conv")).exists()
    assert live_path.exists() and project_dir(config, live_path / "conv").exists()
    live.close()
    fresh.close()


def test_files_are_created_0600_and_never_through_a_link(tmp_path):
    path = tmp_path / "file"
    write_private(path, "secret")
    assert mode(path) == 0o600 and path.read_text() == "secret"
    with pytest.raises(FileExistsError):
        write_private(path, "again")
    target = tmp_path / "target"
    target.write_text("untouched")
    (tmp_path / "planted").symlink_to(target)
    with pytest.raises(OSError):
        write_private(tmp_path / "planted", "through the link")
    assert target.read_text() == "untouched"


def test_transcripts_are_private_and_a_planted_folder_link_is_refused(tmp_path):
    config = tmp_path / "config"
    history = [Message("user", [{"type": "text", "text": "hi"}])]
    session = write_transcript(config, tmp_path / "cwd", history)
    folder = project_dir(config, tmp_path / "cwd")
    assert mode(folder) == 0o700 and mode(folder / f"{session}.jsonl") == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project_dir(config, tmp_path / "other").symlink_to(elsewhere)
    with pytest.raises(OSError):
        write_transcript(config, tmp_path / "other", history)
    assert list(elsewhere.iterdir()) == []
