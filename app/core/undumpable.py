"""The gateway's own /proc entries closed to processes of its user.

An agent's Claude Code process runs as the gateway's user where the gateway is not root, and sees
the host's /proc (its own Bash sandbox needs it: app/engine/agent/sandbox.py). Through
/proc/<gateway>/environ and /proc/<gateway>/root/<working folder>/.env it could read the operator's
keys, for instance by racing a workspace link between a harmless file and such a path past the
permission hook's check. A process that is not "dumpable" has its /proc entries owned by root, and
only a ptrace-capable process may open them; children get their own flag back when they exec.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4


def close_own_proc() -> bool:
    """Make this process undumpable (Linux); whether it is now."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        done = bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except OSError:
        done = False
    if not done:
        log.warning("could not close the gateway's /proc entries (prctl PR_SET_DUMPABLE)")
    return done
