"""The way from a folder down to one deep inside it, holding only a bounded few descriptors.

A walk that never follows a link opens each folder relative to its parent's descriptor
(O_NOFOLLOW), so it needs the parent's descriptor again when it climbs back. Holding one per
level is what broke on a workspace Claude filled with 21,000 nested folders: every removal ended
in EMFILE ("Too many open files", RLIMIT_NOFILE 20,000 here, often 1,024 under systemd), and so
did every request that shared the process's descriptors meanwhile.

So a Descent keeps descriptors only for the top and, in tiers, for the deepest KEPT folders, for
KEPT folders above them every KEPT levels, and for KEPT more every KEPT * KEPT levels: at most
1 + 3 * KEPT (97) whatever the depth. A folder whose descriptor was let go is opened again, one
name at a time with O_NOFOLLOW, from the nearest folder still held, and must be the same folder
(device and inode) as before: a folder swapped for a link or for another folder meanwhile is an
OSError, never followed. Climbing back up costs about two opens per level up to 32,768 levels
deep, and a rare reopen from the top below that.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

KEPT = 32
SPANS = (1, KEPT, KEPT * KEPT)  # a tier keeps KEPT folders, one every span levels, above the current one

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(parent: int, name: str) -> int:
    """The folder `name` of `parent`, opened without following a link."""
    return os.open(name, DIR_FLAGS, dir_fd=parent)


class Descent:
    """Folders from a top (level 0) down to the current one (level `depth`). Owns `top`, an open
    folder descriptor; `close` releases every descriptor."""

    def __init__(self, top: int) -> None:
        self.names: list[str] = []  # names[i]: the name of level i + 1 inside level i
        self._fds: list[int | None] = [top]
        self._ids: list[tuple[int, int]] = [_identity(top)]

    @property
    def depth(self) -> int:
        return len(self.names)

    def fd(self) -> int:
        """The current folder's descriptor, opened again if it was let go."""
        fd = self._fds[-1]
        return fd if fd is not None else self._reopen()

    def enter(self, name: str, opener: Callable[[int, str], int] = open_folder) -> None:
        """Go into the folder `name` of the current one (opened by `opener`; OSError if it cannot be)."""
        child = opener(self.fd(), name)
        try:
            identity = _identity(child)
        except OSError:
            os.close(child)
            raise
        self.names.append(name)
        self._fds.append(child)
        self._ids.append(identity)
        depth = self.depth
        for span in SPANS:
            level = depth - span * KEPT  # the one that just fell out of this tier
            if level > 0 and not self._keeps(level, depth):
                self._let_go(level)

    def leave(self) -> None:
        """Back up to the parent folder."""
        self._let_go(self.depth)
        self.names.pop()
        self._fds.pop()
        self._ids.pop()

    def close(self) -> None:
        for level in range(len(self._fds)):
            self._let_go(level)

    def _keeps(self, level: int, depth: int) -> bool:
        return level == 0 or any(level % span == 0 and depth - level < span * KEPT for span in SPANS)

    def _let_go(self, level: int) -> None:
        fd, self._fds[level] = self._fds[level], None
        if fd is not None:
            os.close(fd)

    def _reopen(self) -> int:
        """Open the current folder again from the nearest one held, keeping what `_keeps` says."""
        depth = self.depth
        start = depth - 1
        while self._fds[start] is None:  # each tier holds only multiples of its span
            start -= max(span for span in SPANS if start % span == 0)
        current = self._fds[start]
        assert current is not None
        for level in range(start + 1, depth + 1):
            try:
                inner = open_folder(current, self.names[level - 1])
            finally:
                if current != self._fds[level - 1]:
                    os.close(current)  # an intermediate one, not kept
            if _identity(inner) != self._ids[level]:
                os.close(inner)
                raise OSError(errno.ESTALE, "a folder was replaced during the walk", self.names[level - 1])
            if self._keeps(level, depth):
                self._fds[level] = inner
            current = inner
        return current


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino
