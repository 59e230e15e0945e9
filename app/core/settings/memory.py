"""The machine's memory, as the settings' defaults read it: what this process may use (the
machine's, or its container's cgroup limit if lower), and how many Claude processes fit in half
of it (GATEWAY_MAX_PROCESSES). PROCESS_MEMORY is also the pool's estimate of a process not yet
measured (app/engine/processes/memory.py).
"""

from __future__ import annotations

import os
from pathlib import Path

PROCESS_MEMORY = 220 * 1024 * 1024  # a Claude Code process takes 175-210 MiB RSS (measured)


def physical_memory() -> int | None:
    """The memory this process may use: the machine's, or its container's limit if lower."""
    try:
        total: int | None = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = None
    limit = cgroup_memory_limit()
    return min(total, limit) if total and limit else total or limit


def cgroup_memory_limit(root: Path = Path("/sys/fs/cgroup"), membership: str | None = None) -> int | None:
    """The memory limit of this process's cgroup and its parents (a container's, a Kubernetes
    pod's), cgroup v2 (`memory.max`) or v1 (`memory.limit_in_bytes`); None if unlimited or unknown.
    `membership`: /proc/self/cgroup's text (read if None)."""
    try:
        membership = Path("/proc/self/cgroup").read_text() if membership is None else membership
    except OSError:
        return None
    limits = []
    for line in membership.splitlines():
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one tree
            folder, name = root / path.lstrip("/"), "memory.max"
        elif "memory" in controllers.split(","):
            folder, name = root / "memory" / path.lstrip("/"), "memory.limit_in_bytes"
        else:
            continue
        for level in [folder, *folder.parents]:
            try:
                value = (level / name).read_text().strip()
            except OSError:
                value = "max"
            if value.isdigit() and int(value) < 2**60:  # v1 writes "unlimited" as a huge number
                limits.append(int(value))
            if level == root:
                break
    return min(limits) if limits else None


def default_max_processes() -> int:
    """Half the machine's memory worth of Claude processes, between 2 and 64."""
    total = physical_memory()
    return max(2, min(64, int(total * 0.5 // PROCESS_MEMORY))) if total else 8
