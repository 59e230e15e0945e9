"""Walking, removing and copying a workspace's tree without following a link, in any shape Claude
left it.

What runs in a workspace may leave anything there: links to `/etc`, folders 21,000 levels deep,
folders it made unwritable (`chmod 500`), FIFOs. os.walk, shutil.rmtree and shutil.copytree
recurse (a deep enough tree is a RecursionError) or hold a descriptor per level (EMFILE), give up
on an unwritable folder, and copytree fails on a FIFO. So: one loop per job over a Descent
(descent.py), which opens each folder with O_NOFOLLOW relative to its parent (a folder swapped
for a link meanwhile is refused by the open, not followed) and holds a bounded few descriptors
however deep the tree goes. Removal first makes each folder of ours writable again (never
through a link); a copy takes folders, regular files and links (as links), nothing else.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .descent import DIR_FLAGS, Descent, open_folder

log = logging.getLogger(__name__)

MAX_DEPTH = 64  # folders below the workspace that a listing looks into (a client path's limit)
CHUNK = 1024 * 1024
TEMP_PREFIX = ".gateway-upload-"  # uploads on their way; hidden, and never a client's name


class TooLarge(Exception):
    """A copy went past its byte limit (what was copied stays: the caller removes it)."""


def walk(top: Path, max_depth: int | None = None) -> Iterator[tuple[list[str], str, os.stat_result]]:
    """Every entry under `top` as (the names of its folders below `top`, its name, its lstat),
    folders before their contents, `max_depth` folders deep at most (None: all). The list of
    folders is the walk's own and changes as it goes: read it at once. Nothing if `top` is
    missing or a link; entries that vanish or cannot be read are skipped."""
    try:
        descent = Descent(os.open(top, DIR_FLAGS))
    except OSError:
        return
    try:
        pending = [iter(os.listdir(descent.fd()))]
        while pending:
            name = next(pending[-1], None)
            if name is None:
                pending.pop()
                if pending:
                    descent.leave()
                continue
            try:
                info = os.stat(name, dir_fd=descent.fd(), follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile; or the folder itself was (ESTALE): its names are skipped
            yield descent.names, name, info
            if stat.S_ISDIR(info.st_mode) and (max_depth is None or descent.depth < max_depth):
                names = _enter(descent, name)
                if names is not None:
                    pending.append(iter(names))
    finally:
        descent.close()


def size(top: Path) -> int:
    """Bytes under `top`: its regular files' sizes, however deep (uploads on their way aside)."""
    return sum(
        info.st_size for _, name, info in walk(top) if stat.S_ISREG(info.st_mode) and not name.startswith(TEMP_PREFIX)
    )


def _enter(descent: Descent, name: str) -> list[str] | None:
    """Go into the folder `name` and list it; None (and still where it was) if it cannot be read."""
    try:
        descent.enter(name)
    except OSError:
        return None
    try:
        return os.listdir(descent.fd())
    except OSError:
        descent.leave()
        return None


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
    descent = Descent(os.open(top.parent, DIR_FLAGS))
    try:
        descent.enter(top.name, _open_writable)
        pending = [iter(os.listdir(descent.fd()))]
        while pending:
            name = next(pending[-1], None)
            if name is None:  # the folder is empty now: it goes from its parent
                pending.pop()
                emptied = descent.names[-1]
                descent.leave()
                os.rmdir(emptied, dir_fd=descent.fd())
                continue
            fd = descent.fd()
            try:
                entry = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(entry.st_mode):
                descent.enter(name, _open_writable)
                pending.append(iter(os.listdir(descent.fd())))
            else:
                os.unlink(name, dir_fd=fd)
    finally:
        descent.close()
    return True


def discard(top: Path) -> None:
    """`remove`, whose failure is logged, not raised: shutil.rmtree(ignore_errors=True) for trees of
    any depth (rmtree's recursion ends in a RecursionError, which ignore_errors does not catch)."""
    try:
        remove(top)
    except OSError:
        log.exception("could not remove all of %s", top)


def copy(source: Path, target: Path, max_bytes: int) -> int:
    """Copy what is under `source` into the empty folder `target`: folders (made 0700), regular
    files (their mode bits and times kept) and links (as links, never followed). FIFOs, sockets,
    devices and what cannot be read are skipped. Past `max_bytes` of files, TooLarge. Returns
    the bytes copied."""
    source_side = Descent(os.open(source, DIR_FLAGS))
    try:
        target_side = Descent(os.open(target, DIR_FLAGS))
    except BaseException:
        source_side.close()
        raise
    copied = 0
    try:
        pending = [iter(os.listdir(source_side.fd()))]
        while pending:
            name = next(pending[-1], None)
            if name is None:
                pending.pop()
                if pending:
                    source_side.leave()
                    target_side.leave()
                continue
            try:
                info = os.stat(name, dir_fd=source_side.fd(), follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(name, 0o700, dir_fd=target_side.fd())
                names = _enter(source_side, name)
                if names is None:
                    log.info("a copy skipped the unreadable folder %r", name)
                    continue
                target_side.enter(name)
                pending.append(iter(names))
            elif stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(name, dir_fd=source_side.fd()), name, dir_fd=target_side.fd())
            elif stat.S_ISREG(info.st_mode):
                copied += _copy_file(source_side.fd(), target_side.fd(), name, max_bytes - copied)
    finally:
        source_side.close()
        target_side.close()
    return copied


def _copy_file(source: int, target: int, name: str, room: int) -> int:
    """Copy the regular file `name` of folder `source` into folder `target`; its size. TooLarge
    past `room` bytes; skipped (0) if it cannot be read or is no regular file by now."""
    try:
        # O_NONBLOCK: a FIFO put in the file's place meanwhile must not hang the copy.
        reader = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=source)
    except OSError:
        log.info("a copy skipped the unreadable file %r", name)
        return 0
    try:
        info = os.fstat(reader)
        if not stat.S_ISREG(info.st_mode):
            return 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        writer = os.open(name, flags, 0o600, dir_fd=target)
        try:
            written = 0
            while chunk := os.read(reader, CHUNK):
                written += len(chunk)
                if written > room:
                    raise TooLarge(name)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(writer, view) :]
            os.fchmod(writer, stat.S_IMODE(info.st_mode) & 0o777)
            os.utime(writer, ns=(info.st_atime_ns, info.st_mtime_ns))
            return written
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def _open_writable(parent: int, name: str) -> int:
    """The folder `name` of `parent`, made 0700 (Claude may have made it unwritable) and opened,
    neither through a link: chmod with follow_symlinks=False refuses a link, and so does the open."""
    try:
        os.chmod(name, 0o700, dir_fd=parent, follow_symlinks=False)
    except (OSError, ValueError, NotImplementedError):
        pass  # a link (refused by the open below), or not ours to change
    return open_folder(parent, name)
