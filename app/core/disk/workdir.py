"""The gateway's folders and files on disk, private to the user it runs as.

Claude processes run in empty per-conversation folders, and the gateway writes a system prompt
file and history transcripts for them. Another local user must not be able to plant those folders
first, swap a file for a symbolic link, or read what they hold. So:

- Each gateway process owns one folder, `<root>/claude-gateway-<16 hex>` (0700), created fresh
  (never `exist_ok`) and locked with `flock` for as long as the process lives. The root is
  GATEWAY_WORK_DIR, or the system temp folder. A configured root must be a real folder (not a
  symbolic link) owned by this user and writable by nobody else, or the gateway refuses to start;
  it is created (0700) if missing.
- At start-up, sibling `claude-gateway-*` folders of this user whose lock is free belong to
  gateways that died (a crash, SIGKILL): they are removed, with the transcripts of conversations
  that ran in them. A live gateway holds its lock, so its folder is never touched.
  The folder is locked under a staging name and only then renamed into place, so a sibling never
  sees a folder whose lock is not held yet.
- Files are created with O_EXCL|O_NOFOLLOW at 0600: an existing file or a planted link is an
  error, never followed.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import tree

PREFIX = "claude-gateway-"
_OWN_NAME = re.compile(rf"^{PREFIX}[0-9a-f]{{16}}$")


class UnsafeWorkDir(Exception):
    """The configured work folder could be changed by someone else; the gateway will not use it."""


def check_root(configured: Path, name: str = "GATEWAY_WORK_DIR") -> Path:
    """The configured work root, created (0700) if missing, refused unless private to this user.
    `name` says which folder it is in the refusal (the work folder, the workspaces' root)."""
    path = Path(os.path.abspath(configured.expanduser()))
    missing = [p for p in [path, *path.parents] if not os.path.lexists(p)]
    for folder in reversed(missing):
        os.mkdir(folder, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeWorkDir(f"{name} {path} is a symbolic link; name the real folder.")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeWorkDir(f"{name} {path} is not a folder.")
    if info.st_uid != os.getuid():
        raise UnsafeWorkDir(f"{name} {path} belongs to another user (uid {info.st_uid}).")
    if info.st_mode & 0o022:
        raise UnsafeWorkDir(
            f"{name} {path} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run `chmod go-w {path}` (better: chmod 700), or name a private folder."
        )
    return path.resolve()  # the leaf is no link; parents may be (e.g. /tmp on macOS)


class GatewayFolder:
    """This gateway process's own folder under `root`, locked while the process lives."""

    def __init__(self, root: Path | None) -> None:
        self.configured = root
        self.path: Path | None = None
        self._lock: int | None = None

    def open(self, on_dead_sibling: Callable[[Path], None] = lambda path: None) -> Path:
        """Create and lock the folder; remove the folders of dead gateways (see the module doc)."""
        root = check_root(self.configured) if self.configured else Path(tempfile.gettempdir()).resolve()
        for _ in range(100):
            name = PREFIX + secrets.token_hex(8)
            staging = root / f".{name}.new"
            try:
                os.mkdir(staging, 0o700)
            except FileExistsError:
                continue
            lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                os.rename(staging, root / name)
            except OSError:
                os.close(lock)
                os.rmdir(staging)
                continue
            self.path, self._lock = root / name, lock
            break
        else:
            raise UnsafeWorkDir(f"could not create a private folder in {root}")
        for sibling in self._dead_siblings(root):
            on_dead_sibling(sibling)
        return self.path

    def _dead_siblings(self, root: Path) -> list[Path]:
        dead = []
        for entry in os.scandir(root):
            if not _OWN_NAME.match(entry.name) or self.path is None or entry.name == self.path.name:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                    continue
                lock = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)  # a live gateway's
                continue
            try:
                tree.discard(Path(entry.path))
                dead.append(Path(entry.path))
            finally:
                os.close(lock)
        return dead

    def new_folder(self) -> Path:
        """An empty folder (0700) for one conversation or spare."""
        if self.path is None:
            raise RuntimeError("the gateway's work folder is not open")
        path = self.path / secrets.token_hex(8)
        os.mkdir(path, 0o700)
        return path

    def close(self) -> None:
        if self.path is not None:
            tree.discard(self.path)  # one-off agent turns' folders: anything Bash made
        if self._lock is not None:
            os.close(self._lock)
        self.path, self._lock = None, None


def private_folder(path: Path) -> None:
    """`path` and any missing parents as folders (0700); an existing link in its place is refused."""
    missing = [p for p in [path, *path.parents] if not os.path.lexists(p)]
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass  # made meanwhile (another conversation); checked below
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OSError(f"{path} is not a folder (a symbolic link?)")


def write_private(path: Path, text: str) -> None:
    """Create `path` (0600) with `text`; fails if anything, a link included, is already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
