"""How much memory the Claude Code processes take: their resident memory, read from /proc, and
what an agent process's private /tmp holds (a tmpfs: memory no process's RSS shows)."""

from __future__ import annotations

import os

from ...core.settings.memory import PROCESS_MEMORY

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
ESTIMATE = PROCESS_MEMORY  # what a process counts before its memory can be read


def rss(pid: int | None) -> int:
    """Resident bytes of process `pid`; the estimate where it cannot be read (not started, no /proc)."""
    if pid is None:
        return ESTIMATE
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return ESTIMATE


def tmp_in_use(pid: int | None) -> int:
    """Bytes held by the private /tmp of sandboxed process `pid` (engine/agent/sandbox.py: a tmpfs, capped by
    GATEWAY_AGENT_TMP_MB), seen through its root in /proc; 0 where that cannot be read."""
    if pid is None:
        return 0
    try:
        usage = os.statvfs(f"/proc/{pid}/root/tmp")
    except OSError:
        return 0
    return (usage.f_blocks - usage.f_bfree) * usage.f_frsize
