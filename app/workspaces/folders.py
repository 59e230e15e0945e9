"""The workspace folders on disk, as workspaces.py lays them out: named by a digest (32 hex
digits, so a name needs no escaping and a tenant's request can only name its own), found without
following a link, removed with a failure logged rather than raised, and aged for the sweep by
their newest change.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from ..core.disk import tree

log = logging.getLogger(__name__)

NAME = re.compile(r"^[0-9a-f]{32}$")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def workspace_folders(parent: Path) -> list[Path]:
    """The workspace-named folders in `parent` (not links)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    return [Path(entry.path) for entry in entries if NAME.match(entry.name) and entry.is_dir(follow_symlinks=False)]


def remove_logged(folder: Path) -> bool:
    """tree.remove, whose failure is logged, not raised: what Claude left in one workspace must
    not fail the request that ends it (nor a key's revocation); the sweep tries again later."""
    try:
        return tree.remove(folder)
    except OSError:
        log.exception("could not remove all of %s; the sweep will try again", folder)
        return True


def lstat_mode(path: Path) -> int:
    """The path's own mode (a link's, not its target's); 0 if there is nothing there."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def last_change(workspace: Path, now: float, ttl: float) -> float:
    """When anything in the workspace last changed; times in the future (a `touch -d 2099` from
    Claude) are not believed, or the workspace would never expire."""
    try:
        newest = os.lstat(workspace).st_mtime
    except OSError:
        return now  # gone meanwhile: nothing to do
    if now - ttl <= newest <= now + 60:
        return newest
    newest = newest if newest <= now + 60 else 0
    for _, _, info in tree.walk(workspace):
        if newest < info.st_mtime <= now + 60:
            newest = info.st_mtime
    return newest


def remove_empty(*paths: Path) -> None:
    """Remove these folders while empty, in order; stop at the first that is not."""
    for folder in paths:
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (in use meanwhile), or gone
