"""Walking and removing a workspace's tree without following a link, in any shape Claude left it.

What runs in a workspace may leave anything there: links to `/etc`, folders a thousand levels deep,
folders it made unwritable (`chmod 500`). os.walk and shutil.rmtree follow no links either, but
they recurse (a deep enough tree is a RecursionError) and give up on an unwritable folder. So:
one loop with a stack of open folders, each opened with O_NOFOLLOW relative to its parent (a
folder swapped for a link meanwhile is refused by the open, not followed). A walk goes at most
MAX_DEPTH folders deep, which bounds the descriptors it holds; removal goes as deep as the tree
does, and first makes each folder of ours writable again (never through a link).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

MAX_DEPTH = 64  # folders below the workspace that a walk (listing, quota) looks into

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk(top: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under `top` as (path relative to it, its lstat), folders before their contents;
    nothing if `top` is missing or a link. Entries that vanish or cannot be read are skipped."""
    try:
        fd = os.open(top, _DIR)
    except OSError:
        return
    stack: list[tuple[int, str, Iterator[str]]] = []
    try:
        stack.append((fd, "", iter(os.listdir(fd))))
        while stack:
            fd, prefix, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                os.close(fd)
                continue
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            yield prefix + name, info
            if stat.S_ISDIR(info.st_mode) and len(stack) <= MAX_DEPTH:
                _push(stack, fd, name, prefix + name + "/")
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _push(stack: list[tuple[int, str, Iterator[str]]], parent: int, name: str, prefix: str) -> None:
    try:
        child = os.open(name, _DIR, dir_fd=parent)
    except OSError:
        return
    try:
        names = os.listdir(child)
    except OSError:
        os.close(child)
        return
    stack.append((child, prefix, iter(names)))


def remove(top: Path) -> bool:
    """Remove `top` and all under it, following no link; whether it was there. A link at `top`
    itself is removed, not followed. Raises OSError if some of it could not be removed."""
    try:
        info = os.lstat(top)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(top)
        return True
    parent = os.open(top.parent, _DIR)
    try:
        _remove_inside(parent, top.name)
        os.rmdir(top.name, dir_fd=parent)
    finally:
        os.close(parent)
    return True


def _remove_inside(parent: int, name: str) -> None:
    """Empty the folder `name` of `parent`: one loop over a stack of (folder fd, its name, what is left)."""
    stack: list[tuple[int, str, Iterator[str]]] = []

    def enter(folder_fd: int, folder: str) -> None:
        """Open `folder` of `folder_fd` and put it on the stack with its names (closed on failure)."""
        fd = _open_writable(folder_fd, folder)
        try:
            stack.append((fd, folder, iter(os.listdir(fd))))
        except OSError:
            os.close(fd)
            raise

    try:
        enter(parent, name)
        while stack:
            fd, folder, names = stack[-1]
            entry = next(names, None)
            if entry is None:  # the folder is empty now: it goes from its parent
                stack.pop()
                os.close(fd)
                if stack:
                    os.rmdir(folder, dir_fd=stack[-1][0])
                continue
            try:
                info = os.stat(entry, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                enter(fd, entry)
            else:
                os.unlink(entry, dir_fd=fd)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _open_writable(parent: int, name: str) -> int:
    """The folder `name` of `parent`, made 0700 (Claude may have made it unwritable) and opened,
    neither through a link: chmod with follow_symlinks=False refuses a link, and so does the open."""
    try:
        os.chmod(name, 0o700, dir_fd=parent, follow_symlinks=False)
    except (OSError, ValueError, NotImplementedError):
        pass  # a link (refused by the open below), or not ours to change
    return os.open(name, _DIR, dir_fd=parent)
