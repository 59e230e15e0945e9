"""A pids cgroup per agent process (sandbox.py), where the host lets the gateway make one: cgroup
v1's pids hierarchy, or a cgroup v2 folder delegated to it. Elsewhere the launcher sets
RLIMIT_NPROC (which binds every user but root). A fork bomb meets the cap of its own process.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

_numbers = itertools.count(1)


class PidsCgroup:
    """A pids cgroup per process under the gateway's own, where the host allows one."""

    def __init__(self) -> None:
        self.root = _writable_pids_root()

    def new(self, limit: int) -> Path | None:
        if self.root is None:
            return None
        for old in self.root.glob("cli-*"):  # those whose processes have all exited
            self.remove(old)
        folder = self.root / f"cli-{next(_numbers)}"
        try:
            folder.mkdir()
            (folder / "pids.max").write_text(str(limit))
        except OSError as exc:
            log.warning("cannot make a pids cgroup (%s); processes are capped by RLIMIT_NPROC only", exc)
            return None
        return folder

    @staticmethod
    def remove(folder: Path | None) -> None:
        if folder is not None:
            try:
                folder.rmdir()
            except OSError:
                pass  # still has processes; the next sweep or the gateway's exit takes it

    def close(self) -> None:
        if self.root is not None:
            for folder in self.root.glob("cli-*"):
                self.remove(folder)
            self.remove(self.root)


def _writable_pids_root() -> Path | None:
    """A folder of the gateway's own in a pids cgroup hierarchy it may write, else None."""
    candidates = [Path("/sys/fs/cgroup/pids")]
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0" and controllers == "":
                v2 = Path("/sys/fs/cgroup") / path.lstrip("/")
                if "pids" in (v2 / "cgroup.subtree_control").read_text(errors="ignore"):
                    candidates.append(v2)
    except OSError:
        pass
    for base in candidates:
        _remove_dead_gateways(base)
        folder = base / f"claude-gateway-{os.getpid()}"
        try:
            folder.mkdir(exist_ok=True)
            if (folder / "pids.max").exists() or (folder / "cgroup.procs").exists():
                return folder
        except OSError:
            continue
    return None


def _remove_dead_gateways(base: Path) -> None:
    """The cgroups of gateways that died (SIGKILL: no close) go, once their processes are gone."""
    for folder in base.glob("claude-gateway-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for child in folder.glob("cli-*"):
                PidsCgroup.remove(child)
            PidsCgroup.remove(folder)
