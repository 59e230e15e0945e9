"""Workspace trees of any depth (app/core/disk/tree.py, descent.py): walked, measured, copied and
removed with a bounded few descriptors, never through a link, even when a folder on the way is
swapped for one mid-walk. Claude made 21,000 nested folders once; removal then ended in EMFILE."""

from __future__ import annotations

import os
import resource
import tempfile
from pathlib import Path

import pytest

from app.core.disk import tree
from app.core.disk.descent import KEPT, SPANS
from app.core.disk.workdir import GatewayFolder
from app.workspaces.workspaces import size

LEVELS = 21_000


def nest(top: Path, levels: int, name: str = "d") -> int:
    """`levels` folders, each in the last, under `top`; a descriptor of the deepest (the caller closes it)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(name, 0o700, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    return fd


@pytest.fixture
def few_descriptors():
    """RLIMIT_NOFILE just above what is open now: one descriptor per level would run out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 2 * (1 + len(SPANS) * KEPT) + 20, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def fast_tmp(tmp_path):
    """A folder in RAM where there is one: this disk takes ~3 ms a rmdir, a minute for 21,000."""
    in_ram = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
    folder = Path(tempfile.mkdtemp(dir="/dev/shm")) if in_ram else tmp_path / "fast"
    folder.mkdir(exist_ok=True)
    yield folder
    tree.remove(folder)  # shutil.rmtree (and pytest's clean-up) cannot: RecursionError


def test_a_tree_21000_folders_deep_is_walked_copied_and_removed(fast_tmp, few_descriptors):
    source, target = fast_tmp / "source", fast_tmp / "target"
    source.mkdir()
    target.mkdir()
    deepest = nest(source, LEVELS)
    os.close(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=deepest))
    with open(os.open("bottom.txt", os.O_WRONLY, dir_fd=deepest), "wb") as file:
        file.write(b"found")
    os.mkfifo("pipe", dir_fd=deepest)
    os.close(deepest)

    assert size(source) == 5
    assert sum(1 for _ in tree.walk(source)) == LEVELS + 2
    assert tree.copy(source, target, 10) == 5
    copied = [(len(folders), name) for folders, name, _ in tree.walk(target) if name != "d"]
    assert copied == [(LEVELS, "bottom.txt")]  # the FIFO is not copied
    assert tree.remove(source) and tree.remove(target)
    assert os.listdir(fast_tmp) == []


def test_a_copy_stops_past_its_limit(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    (source / "a").mkdir(parents=True)
    target.mkdir()
    (source / "a" / "big").write_bytes(b"x" * 3000)
    with pytest.raises(tree.TooLarge):
        tree.copy(source, target, 2999)


def test_a_folder_swapped_for_a_link_mid_walk_is_not_followed(fast_tmp):
    """The walk is deep in a chain under `level1/level2/first` when `level1/level2` becomes a link
    to a look-alike outside whose `second` holds a secret: climbing back up must not reach it."""
    workspace, outside = fast_tmp / "workspace", fast_tmp / "outside"
    level2 = workspace / "level1" / "level2"
    level2.mkdir(parents=True)
    for name in ("x", "y"):
        (level2 / name).mkdir()
    first, second = os.listdir(level2)  # the walk takes them in this order
    levels = 3 * KEPT  # deep enough that climbing back up opens folders again from the top
    os.close(nest(level2 / first, levels))
    (outside / "level2" / first).mkdir(parents=True)
    (outside / "level2" / second).mkdir()
    (outside / "level2" / second / "secret").write_text("secret")

    seen = []
    for folders, name, _ in tree.walk(workspace):
        seen.append(name)
        if len(folders) == levels + 2:  # at the bottom
            os.rename(level2, fast_tmp / "moved")
            level2.symlink_to(outside / "level2")
    assert second not in seen[seen.index(first) :] and "secret" not in seen
    assert tree.remove(workspace) and tree.remove(fast_tmp / "moved")
    assert (outside / "level2" / second / "secret").exists()


def test_the_work_folder_goes_however_deep_a_one_off_agent_turn_nested_its_folders(fast_tmp):
    """One-off agent turns (n > 1) run in folders of the gateway's work folder; shutil.rmtree
    ended in a RecursionError there (which ignore_errors does not catch) at shutdown and when a
    dead gateway's folder was cleared."""
    dead, live = GatewayFolder(fast_tmp), GatewayFolder(fast_tmp)
    os.close(nest(dead.open(), 1500))
    assert dead._lock is not None
    os.close(dead._lock)  # as if its process died: its lock goes with it
    dead._lock, dead_path = None, dead.path
    os.close(nest(live.open(), 1500))  # clears the dead one's folder
    assert dead_path is not None and not dead_path.exists()
    conversation_folder = live.new_folder()
    os.close(nest(conversation_folder, 1500))
    live.close()
    assert os.listdir(fast_tmp) == []
