"""How a Claude Code process is started: through a small launcher script that the SDK runs as its
`cli_path`, which sets two things on the CLI before it execs it.

- A parent-death signal (PR_SET_PDEATHSIG, by util-linux's `setpriv --pdeathsig KILL`): a gateway
  killed with SIGKILL or by the OOM killer leaves no CLI behind. Without it, CLIs outlived a
  killed gateway as orphans of PID 1 for up to 31 s (measured), still spending upstream tokens.
  KILL, not TERM: an idle CLI may be frozen (SIGSTOP, see processes/process.py), and a stopped process acts
  on no signal but SIGKILL.
- A CPU priority (`nice`): spares start at a lower priority than live turns, so that starting
  one (0.3-0.4 CPU-seconds) never slows a turn in flight, and spares can start at once instead of
  waiting for a quiet moment. A spare taken for a conversation is set back to normal priority
  (`renice`), where the system allows it (root, or CAP_SYS_NICE); elsewhere it keeps the lower
  priority, like every other process that began as a spare.
- Variables removed: a process of a caller's own credential must not see the operator's
  credential variables, and the SDK can only override an inherited variable, not remove it. The
  engine empties them (which Claude Code reads as unset) and names them in CLAUDE_GATEWAY_UNSET;
  the launcher unsets them.

- Agent mode's sandbox (engine/agent/sandbox.py): the process joins its pids cgroup (or gets RLIMIT_NPROC),
  and runs inside the bubblewrap whose arguments the engine gives it, shell-quoted. The CLI is
  named by its real path: the sandbox shows its real folder, not a link on the way (.venv).

The launcher is a POSIX shell script written at start-up into the gateway's private work folder;
every step execs the next, so the CLI keeps the pid the SDK started. Where `setpriv` or `nice` is
missing (macOS), the step is left out.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from pathlib import Path

from ..core.disk.workdir import write_private
from .sdk_private import bundled_cli

log = logging.getLogger(__name__)

NICE_VARIABLE = "CLAUDE_GATEWAY_NICE"  # the launcher's priority for the process it starts
UNSET_VARIABLE = "CLAUDE_GATEWAY_UNSET"  # variables the launcher removes, separated by spaces
WRAP_VARIABLE = "CLAUDE_GATEWAY_WRAP"  # the sandbox's command line (shell-quoted words) the CLI runs in
CGROUP_VARIABLE = "CLAUDE_GATEWAY_CGROUP"  # a pids cgroup folder the process joins
NPROC_VARIABLE = "CLAUDE_GATEWAY_NPROC"  # RLIMIT_NPROC, where there is no cgroup
SPARE_NICE = 10

_SANDBOX_STEPS = f"""wrap=${WRAP_VARIABLE}
if [ -n "${CGROUP_VARIABLE}" ]; then echo $$ > "${CGROUP_VARIABLE}/cgroup.procs" || exit 126; fi
if [ -n "${NPROC_VARIABLE}" ]; then ulimit -u "${NPROC_VARIABLE}" || exit 126; fi
unset {WRAP_VARIABLE} {CGROUP_VARIABLE} {NPROC_VARIABLE}
"""


def write_launcher(folder: Path, cli_path: str | None) -> str:
    """The launcher for `cli_path` (or the CLI the SDK bundles), as a path for `cli_path`."""
    cli = cli_path or bundled_cli() or shutil.which("claude")
    if cli is None or not os.access(cli, os.X_OK):
        return cli_path or "claude"  # the SDK reports a missing CLI as it always does
    cli = os.path.realpath(cli)  # the agent sandbox shows the CLI's real folder, not a link on the way
    steps = []
    if shutil.which("setpriv"):
        steps.append("setpriv --pdeathsig KILL --")
    else:
        log.warning("setpriv not found: Claude Code processes may outlive a killed gateway")
    if shutil.which("nice"):
        steps.append(f'nice -n "${{{NICE_VARIABLE}:-0}}"')
    script = folder / "claude-launcher"
    unset = f'for name in ${UNSET_VARIABLE}; do unset "$name"; done\nunset {UNSET_VARIABLE}\n'
    # eval: the sandbox's words are shell-quoted by the engine (engine/agent/sandbox.py), never by a client.
    run = f'cli={shlex.quote(cli)}\neval "set -- $wrap \\"\\$cli\\" \\"\\$@\\""\nexec {" ".join(steps)} "$@"\n'
    write_private(script, f"#!/bin/sh\n{unset}{_SANDBOX_STEPS}{run}")
    script.chmod(0o700)
    return str(script)


def renice(pid: int, nice: int = 0) -> bool:
    """Set every thread of process `pid` to `nice`; False where the system does not allow it."""
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    try:
        for thread in threads:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
    except PermissionError:
        return False
    except ProcessLookupError:
        pass
    return True
