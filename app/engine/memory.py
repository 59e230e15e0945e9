"""How much memory the Claude Code processes take: their resident memory, read from /proc."""

from __future__ import annotations

import os

from ..config import PROCESS_MEMORY

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
