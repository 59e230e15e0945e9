"""A client's file path inside a workspace, opened without ever following a symbolic link.

Claude Code's tools write in the workspace, and so can a client: either may plant a symbolic link
(`ln -s /etc x`, `ln -s ~/.claude/.credentials.json y`) and then ask the files API for `x/passwd`
or `y`. Resolving a path and checking that it lies inside the workspace is not enough: a folder can
be swapped for a link between the check and the open. So every path is opened one component at a
time, each folder with O_NOFOLLOW relative to the folder before it (`dir_fd`), and the last name
with O_NOFOLLOW too: a link anywhere on the way is refused, never followed, whenever it appears.

A client path is relative, made of plain names separated by `/`: no empty, `.` or `..` names, no
backslash, NUL or other control characters, at most 1024 characters and 64 folders deep (as
far as listings and the quota look). Claude Code's own folder
(`.claude/`, where its settings and hooks would live) is not the client's to read or write.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.disk.tree import MAX_DEPTH, TEMP_PREFIX
from ..core.errors import GatewayError, invalid_request

MAX_PATH = 1024
MAX_NAME = 255  # bytes in one name (Linux NAME_MAX)
RESERVED = ".claude"  # Claude Code's folder in its working folder

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def invalid_path(message: str) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", "invalid_path", "path")


def file_not_found(path: str) -> GatewayError:
    return GatewayError(
        404, f"No file '{path}' in this session's workspace.", "invalid_request_error", "file_not_found", "path"
    )


def parts(path: str) -> list[str]:
    """The names in a client's `path`, or 400 `invalid_path` saying what is wrong with it."""
    if not path:
        raise invalid_path("The file path is empty.")
    if len(path) > MAX_PATH:
        raise invalid_path(f"The file path is longer than {MAX_PATH} characters.")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise invalid_path("The file path holds a NUL or another control character.")
    if "\\" in path:
        raise invalid_path("The file path holds a backslash; separate folders with '/'.")
    if path.startswith("/"):
        raise invalid_path("The file path must be relative to the workspace, not absolute.")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_path("The file path is not valid UTF-8.") from None
    names = path.split("/")
    if len(names) > MAX_DEPTH:
        raise invalid_path(f"The file path is more than {MAX_DEPTH} folders deep.")
    for name in names:
        if name in ("", ".", ".."):
            raise invalid_path("The file path may not hold empty, '.' or '..' parts.")
        if len(name.encode()) > MAX_NAME:
            raise invalid_path(f"A name in the file path is longer than {MAX_NAME} bytes.")
    if names[0] == RESERVED:
        raise invalid_path(f"'{RESERVED}/' is Claude Code's own folder; the files API does not reach it.")
    if names[-1].startswith(TEMP_PREFIX):
        raise invalid_path(f"Names starting with '{TEMP_PREFIX}' are the gateway's own.")
    return names


def _symlink_refused(path: str) -> GatewayError:
    return invalid_path(f"'{path}' goes through a symbolic link, which the gateway never follows.")


@contextmanager
def folder(workspace: Path, path: str, names: list[str], create: bool = False) -> Iterator[int]:
    """A descriptor of the folder that holds the last of `names`, reached without following links.
    `create` makes missing folders (0700); else a missing one is 404."""
    fd = os.open(workspace, _DIR)
    try:
        for name in names[:-1]:
            if create:
                try:
                    os.mkdir(name, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass  # checked by the open below
            try:
                inner = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                raise file_not_found(path) from None
            except OSError as exc:  # ELOOP: a link; ENOTDIR: a file where a folder should be
                if exc.errno == errno.ELOOP:
                    raise _symlink_refused(path) from None
                raise invalid_path(f"'{path}': '{name}' is not a folder.") from None
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def entry(workspace: Path, path: str, names: list[str]) -> os.stat_result | None:
    """What is at `path` now (not followed), None if nothing; a link on the way or at the end is 400."""
    try:
        with folder(workspace, path, names) as fd:
            info = os.stat(names[-1], dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except GatewayError as error:
        if error.code == "file_not_found":
            return None
        raise
    if stat.S_ISLNK(info.st_mode):
        raise _symlink_refused(path)
    return info


def added_folder(workspace: Path, path: str) -> None:
    """A folder a request adds for Claude Code's tools (`claude_code.add_dirs`, already normalised
    by agent/policy.py): 400 naming that field if it is, or passes through, a symbolic link, or is no
    folder. Checked by text alone, `ln -s /etc etclink` in one turn and `add_dirs: ["etclink"]` in
    the next made /etc an allowed root of the file tools. Checked before every turn, before its
    process starts: the permission hook fixes its roots when the process starts (and resolves each
    path then), so a link planted later leads nowhere. A folder not made yet is fine."""
    field = "claude_code.add_dirs"
    try:
        info = entry(workspace, path, parts(path))
    except GatewayError as error:
        raise GatewayError(400, f"{field}: {error.message}", error.type, error.code, field) from None
    except OSError as exc:  # Claude may have changed the workspace in any way (permissions)
        raise invalid_request(f"{field}: '{path}' cannot be used: {exc.strerror}.", field, "invalid_path") from None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise GatewayError(400, f"{field}: '{path}' is not a folder.", "invalid_request_error", "invalid_path", field)


def open_file(workspace: Path, path: str) -> tuple[int, os.stat_result]:
    """A regular file of the workspace opened for reading, and its stat. A link is 400, a folder or
    anything else 404. A file with other hard links is refused too: one may name a file outside."""
    names = parts(path)
    with folder(workspace, path, names) as fd:
        try:
            # O_NONBLOCK: a FIFO Claude made must not hang the request (it is refused below).
            file = os.open(names[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        except FileNotFoundError:
            raise file_not_found(path) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _symlink_refused(path) from None
            raise file_not_found(path) from None
    info = os.fstat(file)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(file)
        if stat.S_ISREG(info.st_mode):
            raise invalid_path(f"'{path}' has other hard links; the files API does not serve it.")
        raise file_not_found(path)
    return file, info


def delete_file(workspace: Path, path: str) -> None:
    """Remove a regular file of the workspace; a link is 400 (never followed, never removed)."""
    names = parts(path)
    with folder(workspace, path, names) as fd:
        try:
            info = os.stat(names[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            raise file_not_found(path) from None
        if stat.S_ISLNK(info.st_mode):
            raise _symlink_refused(path)
        if not stat.S_ISREG(info.st_mode):
            raise file_not_found(path)
        os.unlink(names[-1], dir_fd=fd)


class NewFile:
    """A file being uploaded: written to a private temp file (0600, O_EXCL|O_NOFOLLOW) at the
    workspace's top, then renamed into place at once by `commit`, which only then makes the
    missing folders. So a reader never sees half a file, and a refused upload leaves nothing."""

    def __init__(self, workspace: Path, path: str) -> None:
        self.workspace, self.path, self.names = workspace, path, parts(path)
        existing = entry(workspace, path, self.names)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise invalid_path(f"'{path}' is a folder.")
        self.replaces = existing.st_size if existing is not None and stat.S_ISREG(existing.st_mode) else 0
        self.written = 0
        self._temp = TEMP_PREFIX + secrets.token_hex(8)
        self._root = os.open(workspace, _DIR)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            self._fd: int | None = os.open(self._temp, flags, 0o600, dir_fd=self._root)
        except BaseException:
            os.close(self._root)
            raise

    def write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.written += len(data)

    def commit(self) -> os.stat_result:
        """Put the file in place (replacing a file of that name) and close; returns its stat."""
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        with folder(self.workspace, self.path, self.names, create=True) as fd:
            try:
                target = os.stat(self.names[-1], dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                target = None
            if target is not None and stat.S_ISLNK(target.st_mode):
                raise _symlink_refused(self.path)
            if target is not None and stat.S_ISDIR(target.st_mode):
                raise invalid_path(f"'{self.path}' is a folder.")
            # rename() never follows a link at its target: at worst it replaces a link planted
            # since the check above, and nothing outside the workspace changes.
            os.rename(self._temp, self.names[-1], src_dir_fd=self._root, dst_dir_fd=fd)
            return os.stat(self.names[-1], dir_fd=fd, follow_symlinks=False)

    def close(self) -> None:
        """Release the descriptors; the temp file goes unless it was committed. Idempotent."""
        if self._root < 0:
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self._temp, dir_fd=self._root)
        except FileNotFoundError:
            pass  # committed
        os.close(self._root)
        self._root = -1


@contextmanager
def os_errors(path: str) -> Iterator[None]:
    """The OS errors a files request can meet, as the client's 4xx (or 507: the disk is full).
    Claude may have changed the workspace in any way (permissions, a file where a folder was)."""
    try:
        yield
    except FileNotFoundError:
        raise file_not_found(path) from None
    except PermissionError:
        raise GatewayError(
            403,
            f"'{path}' cannot be reached in this workspace: its permissions were changed.",
            "permission_error",
            "file_not_accessible",
            "path",
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise GatewayError(507, "The gateway's disk is full.", "server_error", "insufficient_storage") from None
        if exc.errno in (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.ELOOP):
            raise invalid_path(f"'{path}' cannot be used in this workspace: {exc.strerror}.") from None
        raise
