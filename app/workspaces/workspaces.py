"""Agent sessions' workspaces: the folder where Claude Code's tools read and write, kept across
turns and gateway restarts, and the files API's view of it.

Layout: `<data>/workspaces/<sha256(tenant)[:32]>/<sha256(tenant "\\0" session)[:32]>`, all 0700.
The names are digests, so they need no escaping, survive a restart (same tenant and session: same
folder), and a tenant's requests only ever name its own folders; one folder per tenant makes its
quota a walk of that folder. The root is refused unless private to this user, as the work folder
is (core/disk/workdir.py).

A workspace ends with its session (DELETE /v1/sessions/{id}, or `sweep` once it has not been used
for the session TTL); every use touches its mtime. Paths inside it are opened by paths.py, which
never follows a link; walks and removal are core/disk/tree.py's, which follow none either, and
the folders themselves (their names, finding, removing and ageing them) are folders.py's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.bodies import body_too_large
from ..core.disk import tree
from ..core.disk.tree import TEMP_PREFIX, size
from ..core.disk.workdir import check_root, private_folder
from ..core.errors import GatewayError, session_exists
from ..tenancy.auth import Tenant
from .folders import digest, last_change, lstat_mode, remove_empty, remove_logged, workspace_folders
from .paths import RESERVED, NewFile, entry, parts

log = logging.getLogger(__name__)

MB = 1024 * 1024
# What Claude Code's Bash sandbox (bubblewrap) leaves in its working folder: empty files and an
# empty node_modules/.bin it mounts over, so that commands cannot plant them. Hidden from the
# listing only while empty (an empty folder is never listed: only files are).
DECOYS = frozenset(
    {
        ".env",
        ".env.local",
        ".env.development",
        ".env.development.local",
        ".env.test",
        ".env.test.local",
        ".env.production",
        ".env.production.local",
        ".gitmodules",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        "bunfig.toml",
        "package.json",
        "package-lock.json",
        "pnpm-lock.yaml",
        "yarn.lock",
    }
)


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    modified: int  # Unix seconds

    def public(self) -> dict[str, Any]:
        return {"object": "session.file", "path": self.path, "size": self.size, "modified": self.modified}


def quota_exceeded(used: int, limit: int, what: str = "This upload") -> GatewayError:
    return GatewayError(
        413,
        f"{what} would take this key's workspaces past their quota: they hold {used} bytes, "
        f"and may hold {limit} bytes ({limit / MB:g} MB). Delete files or sessions first.",
        "invalid_request_error",
        "workspace_quota_exceeded",
    )


class Workspaces:
    """Every agent session's workspace under `root`; `quota_mb`: what a tenant's may hold together
    unless its key's policy says otherwise."""

    def __init__(self, root: Path, quota_mb: int) -> None:
        self.root = check_root(root, "The workspaces folder")
        self.quota_mb = quota_mb
        self._pending: dict[str, int] = {}  # tenant -> bytes of its uploads on their way

    # --- where --------------------------------------------------------------------------------
    def tenant_folder(self, tenant_id: str) -> Path:
        return self.root / digest(tenant_id)

    def path(self, tenant_id: str, session_id: str) -> Path:
        return self.tenant_folder(tenant_id) / digest(f"{tenant_id}\0{session_id}")

    def exists(self, tenant_id: str, session_id: str) -> bool:
        return stat.S_ISDIR(lstat_mode(self.path(tenant_id, session_id)))

    def open(self, tenant_id: str, session_id: str) -> Path:
        """The session's workspace, created (0700) if new, and marked as used now."""
        path = self.path(tenant_id, session_id)
        for attempt in range(2):
            try:
                private_folder(path)
                break
            except FileNotFoundError:  # the sweep removed the tenant's empty folder meanwhile
                if attempt:
                    raise
        self.touch(path)
        return path

    def touch(self, workspace: Path) -> None:
        """Mark the workspace as used now (an upload, a turn): `sweep` keeps it for another TTL."""
        try:
            os.utime(workspace, follow_symlinks=False)
        except FileNotFoundError:
            pass

    # --- what it holds ------------------------------------------------------------------------
    def usage(self, tenant_id: str) -> int:
        """Bytes in the tenant's workspaces: its regular files' sizes (uploads on their way aside)."""
        total = 0
        for folder in workspace_folders(self.tenant_folder(tenant_id)):
            total += size(folder)
        return total

    def quota(self, tenant: Tenant) -> int:
        """Bytes the tenant's workspaces may hold: its key's policy, else the gateway's setting."""
        agent = tenant.policy.agent if tenant.policy is not None else None
        configured = agent.workspace_quota_mb if agent is not None else None
        return int((self.quota_mb if configured is None else configured) * MB)

    # --- changes ------------------------------------------------------------------------------
    async def upload(
        self,
        tenant: Tenant,
        session_id: str,
        path: str,
        body: AsyncIterator[bytes],
        declared: int | None,
        max_bytes: int,
    ) -> FileInfo:
        """Write `body` to `path` in the session's workspace (made if new), counted as it arrives:
        past `max_bytes` or the tenant's quota it stops with a 413 and leaves nothing behind. The
        Content-Length (`declared`) is checked first. A file of that name is replaced, and its
        bytes are not counted twice. Uploads of the tenant on their way count too."""
        names = parts(path)  # a bad path creates no workspace
        if declared is not None and declared > max_bytes:
            raise body_too_large(max_bytes)
        limit = self.quota(tenant)
        used = await asyncio.to_thread(self.usage, tenant.id) + self._pending.get(tenant.id, 0)
        if declared is not None and used - self._replaced(tenant.id, session_id, path, names) + declared > limit:
            raise quota_exceeded(used, limit)
        new = not self.exists(tenant.id, session_id)
        file = NewFile(self.open(tenant.id, session_id), path)
        try:
            async for chunk in body:
                file.write(chunk)
                self._pending[tenant.id] = self._pending.get(tenant.id, 0) + len(chunk)
                if file.written > max_bytes:
                    raise body_too_large(max_bytes)
                if used - file.replaces + file.written > limit:
                    raise quota_exceeded(used, limit)
            info = file.commit()
        except BaseException:
            file.close()
            if new:  # made for this upload: it goes with it (rmdir: only while still empty)
                remove_empty(file.workspace, file.workspace.parent)
            raise
        finally:
            self._pending[tenant.id] = self._pending.get(tenant.id, 0) - file.written
            if self._pending[tenant.id] <= 0:
                del self._pending[tenant.id]
            file.close()
        self.touch(file.workspace)
        return FileInfo(path, info.st_size, int(info.st_mtime))

    def _replaced(self, tenant_id: str, session_id: str, path: str, names: list[str]) -> int:
        """The size of the file an upload to `path` would replace (0: none)."""
        if not self.exists(tenant_id, session_id):
            return 0
        found = entry(self.path(tenant_id, session_id), path, names)
        return found.st_size if found is not None and stat.S_ISREG(found.st_mode) else 0

    def remove(self, tenant_id: str, session_id: str) -> bool:
        """Remove the session's workspace and all in it; whether there was one."""
        return remove_logged(self.path(tenant_id, session_id))

    def remove_tenant(self, tenant_id: str) -> bool:
        """Remove all the tenant's workspaces (its key was revoked)."""
        return remove_logged(self.tenant_folder(tenant_id))

    async def fork(self, tenant: Tenant, source_id: str, target_id: str) -> Path:
        """A copy of the source session's workspace as the new `target_id`'s (folders, regular
        files, links as links; FIFOs, sockets and devices skipped: tree.copy). Refused with 413
        if the copy would take the tenant's workspaces past their quota, and with 409 if the
        target already has a workspace (files uploaded before any turn). A failed copy leaves
        nothing of the target behind."""
        limit = self.quota(tenant)
        source = self.path(tenant.id, source_id)
        used = await asyncio.to_thread(self.usage, tenant.id) + self._pending.get(tenant.id, 0)
        needed = await asyncio.to_thread(size, source)
        if used + needed > limit:
            raise quota_exceeded(used, limit, f"A copy of this workspace ({needed} bytes)")
        if self.exists(tenant.id, target_id):
            raise session_exists(target_id)
        target = self.open(tenant.id, target_id)
        try:
            await asyncio.to_thread(tree.copy, source, target, limit - used)
        except tree.TooLarge:  # the source grew meanwhile (a command still running)
            await asyncio.to_thread(remove_logged, target)
            raise quota_exceeded(used, limit, "A copy of this workspace") from None
        except BaseException:
            await asyncio.to_thread(remove_logged, target)
            raise
        return target

    def sweep(self, ttl: float, live: set[Path]) -> int:
        """Remove the workspaces not in `live` that nothing has changed for `ttl` seconds (their
        session has expired); returns how many went. A tenant's folder goes once empty."""
        now, removed = time.time(), 0
        for tenant_folder in workspace_folders(self.root):
            before = removed
            for workspace in workspace_folders(tenant_folder):
                if workspace in live or now - last_change(workspace, now, ttl) <= ttl:
                    continue
                try:
                    removed += tree.remove(workspace)
                except OSError:
                    log.exception("could not remove the expired workspace %s", workspace)
            try:
                if removed > before or now - os.lstat(tenant_folder).st_mtime > ttl:
                    os.rmdir(tenant_folder)  # only if empty; open() retries if it raced this
            except OSError:
                pass
        return removed

    # Last in the class: below it, `list` in an annotation would name this method.
    def list(self, workspace: Path) -> list[FileInfo]:
        """Every regular file in the workspace, by path; not Claude Code's `.claude/`, not the
        sandbox's empty decoys, not uploads on their way. Links are neither listed nor followed."""
        found = []
        for folders, name, info in tree.walk(workspace, tree.MAX_DEPTH):
            if not stat.S_ISREG(info.st_mode) or folders[:1] == [RESERVED] or name.startswith(TEMP_PREFIX):
                continue
            path = "/".join([*folders, name])
            if path in DECOYS and info.st_size == 0:
                continue
            found.append(FileInfo(path, info.st_size, int(info.st_mtime)))
        return sorted(found, key=lambda file: file.path)
