"""The bubblewrap around an agent-mode Claude Code process (see agent.py), and its cap on processes.

The CLI sees the host read-only, with these out of sight (an empty folder in their place): the
gateway's data folder (its store and every session's workspace), its private work folder (other
conversations, callers' credential folders), the host's Claude config folder, the home folder, and
/etc/shadow. Writable: the conversation's workspace, the process's own config folder (transcripts)
and a private /tmp. The network is the host's: the CLI must reach Claude; its commands get theirs
from Claude Code's own sandbox, nested inside this one (which is why /proc is the host's, bound
writable: the nested bubblewrap maps its user namespace through it).

A fork bomb meets a pids cgroup of its own per process where the host lets the gateway make one
(cgroup v1's pids hierarchy, or a cgroup v2 folder delegated to it), else RLIMIT_NPROC (which binds
every user but root).
"""

from __future__ import annotations

import itertools
import logging
import os
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from ..config import Settings
from .launcher import CGROUP_VARIABLE, NPROC_VARIABLE, WRAP_VARIABLE
from .sdk_private import bundled_cli
from .workdir import GatewayFolder

log = logging.getLogger(__name__)

SHADOWED = ("/etc/shadow", "/etc/gshadow")


@cache
def bubblewrap() -> str | None:
    """bwrap's path, if it is installed and can make a sandbox here."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run(
            [path, "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/proc", "/proc", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if probe.returncode != 0:
        log.warning("bubblewrap cannot make a sandbox here: %s", probe.stderr.decode(errors="replace").strip())
        return None
    return path


def wrap(writable: list[Path], hidden: list[Path], exposed: list[Path]) -> list[str]:
    """bwrap's arguments (up to the command) for a process that may write only `writable`, with
    `hidden` folders emptied and `exposed` paths (read-only) shown again inside them.

    Paths are given with their symlinks resolved: bubblewrap makes each mount point inside the
    new root, where a symlink on the way (a virtualenv linked from elsewhere, a linked home
    folder) points at the host's path, and it fails with "Can't mkdir ...: No such file"."""
    bwrap = bubblewrap()
    if bwrap is None:
        raise RuntimeError("bubblewrap is not available")
    writable, hidden, exposed = (_resolved(paths) for paths in (writable, hidden, exposed))
    args = [bwrap, "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/proc", "/proc"]
    args += ["--tmpfs", "/tmp"]
    for folder in hidden:
        if folder.is_dir():
            args += ["--tmpfs", str(folder)]
    for path in exposed:
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    for secret in SHADOWED:
        if os.path.exists(secret):
            args += ["--ro-bind", "/dev/null", secret]
    return args


def out_of_sight(servers: dict[str, dict[str, Any]], hidden: list[Path], shown: list[Path]) -> list[str]:
    """The stdio MCP servers whose command, or a file among their arguments, lies in a folder the
    sandbox hides (/tmp included) and not in one shown again: Claude Code cannot start them
    there, and says so to no one but Claude ("No such tool available"). As `name: path`."""
    hidden, shown = _resolved([*hidden, Path("/tmp")]), _resolved(shown)

    def unseen(path: Path) -> bool:
        return any(_under(path, folder) for folder in hidden) and not any(_under(path, folder) for folder in shown)

    found = []
    for name, server in servers.items():
        if server.get("type", "stdio") != "stdio":
            continue
        command = str(server.get("command", ""))
        paths = [shutil.which(command) or command]
        paths += [str(arg) for arg in server.get("args") or [] if str(arg).startswith("/")]
        found += [f"{name}: {path}" for path in paths if os.path.isabs(path) and unseen(Path(os.path.realpath(path)))]
    return found


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _resolved(paths: list[Path]) -> list[Path]:
    return [Path(os.path.realpath(path)) for path in paths]


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


class AgentSandbox:
    """The launcher's sandbox variables (launcher.py) for each agent process: its bubblewrap, and
    its cap on processes."""

    def __init__(self, settings: Settings, work: GatewayFolder | None) -> None:
        self.settings = settings
        self.work = work
        self.pids: PidsCgroup | None = None  # made when the first agent process starts
        self.unseen_servers: set[str] = set()  # MCP servers already reported out of sight

    def env(self, cwd: Path, config_dir: Path, servers: dict[str, dict[str, Any]]) -> dict[str, str]:
        settings = self.settings
        cli = Path(settings.cli_path or bundled_cli() or "claude")
        hidden = [settings.data_path, settings.config_dir, Path.home()]
        if self.work is not None and self.work.path is not None:
            hidden.append(self.work.path)
        for unseen in out_of_sight(servers, hidden, [cwd, config_dir, cli.parent]):
            if unseen not in self.unseen_servers:
                self.unseen_servers.add(unseen)
                log.warning(
                    "MCP server %s is in a folder the agent sandbox hides (the home folder, /tmp, the gateway's "
                    "data, work and Claude config folders): Claude Code cannot start it there. Install it, and "
                    "the interpreter it runs on, outside them (for example under /usr/local or /opt).",
                    unseen,
                )
        words = wrap([cwd, config_dir], hidden, [cli.parent])
        env = {WRAP_VARIABLE: " ".join(shlex.quote(word) for word in words)}
        if self.pids is None:
            self.pids = PidsCgroup()
        cgroup = self.pids.new(settings.agent_max_pids)
        if cgroup is not None:
            env[CGROUP_VARIABLE] = str(cgroup)
        else:
            env[NPROC_VARIABLE] = str(settings.agent_max_pids)
        return env

    def close(self) -> None:
        """The gateway stops: its cgroups go (their processes have exited)."""
        if self.pids is not None:
            self.pids.close()
