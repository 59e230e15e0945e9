"""The bubblewrap around an agent-mode Claude Code process (see setup.py): what it sees of the host.

Built from an allow-list, not by hiding a deny-list (which left everything else the gateway's user
can read in sight: the folder the gateway runs from with its `.env`, the MCP config, /var/tmp...).
The process sees, and nothing else:
- read-only: the system folders a shell and the CLI need (/usr, /bin, /sbin, /lib*, /etc), the
  CLI's own folder, and the folders the operator adds (GATEWAY_AGENT_READ_DIRS: where its stdio MCP
  servers live). Out of sight even there: every file and folder of /etc that is not world-readable
  (shadow, gshadow, sudoers, SSH host keys, ssl/private), and the gateway's own folders and files
  (data, work and Claude config folders, working folder, `.env`, MCP config, home folder);
- writable: the conversation's workspace (its `add_dirs` lie inside it), the process's own config
  folder (transcripts), and a private /tmp, a tmpfs capped at GATEWAY_AGENT_TMP_MB (in RAM);
- its own /dev, and the host's /proc. Claude Code's own sandbox of commands nests inside this one
  (bubblewrap again: its own PID namespace and /proc, no network but the key's allowed domains),
  and maps its user namespace through /proc; it cannot mount its /proc inside a fresh one that
  bubblewrap made (bubblewrap covers /proc/sys and the like, so the kernel refuses: "Can't mount
  proc", measured), so the CLI keeps the host's. The CLI's own file tools are held to the
  workspace by the permission hook; the stdio MCP servers it starts each get a bubblewrap of
  their own with a PID namespace and a fresh /proc (own_pids): they see no host process.
- as root's `nobody` in a user namespace, where root starts it, and never with capabilities
  (bubblewrap keeps all of root's, with which the CLI could undo every mount).
The network is the host's: the CLI must reach Claude.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ...core.disk.workdir import GatewayFolder
from ...core.settings import Settings
from ..sdk_private import bundled_cli
from ..wrapper_script import CGROUP_VARIABLE, NPROC_VARIABLE, WRAP_VARIABLE
from .pids import PidsCgroup

log = logging.getLogger(__name__)

# The system folders shown read-only. Where one is a link (merged /usr: /bin -> usr/bin), the link.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Files of /etc that may link out of it (systemd-resolved's resolv.conf is in /run): their target.
ETC_LINKS = ("/etc/resolv.conf", "/etc/hosts", "/etc/localtime")
MIB = 1024 * 1024
NOBODY = 65534


@cache
def bubblewrap() -> str | None:
    """bwrap's path, if it is installed and can make this sandbox here."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run([*wrap(View(), path), "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if probe.returncode != 0:
        log.warning("bubblewrap cannot make a sandbox here: %s", probe.stderr.decode(errors="replace").strip())
        return None
    return path


@dataclass
class View:
    """What a sandboxed process sees. Paths as given: they are resolved here (bubblewrap makes each
    mount point inside the new root, where a symlink on the way points at the host's path, and it
    fails with "Can't mkdir ...: No such file")."""

    writable: list[Path] = field(default_factory=list)
    shown: list[Path] = field(default_factory=list)  # read-only, besides the system folders
    hidden: list[Path] = field(default_factory=list)  # out of sight, even inside a shown folder
    on_top: list[Path] = field(default_factory=list)  # shown read-only even inside a hidden one
    tmp_bytes: int = 64 * MIB

    def roots(self) -> list[Path]:
        """The folders shown read-only, resolved: the system's and the others."""
        system = [Path(os.path.realpath(folder)) for folder in SYSTEM if os.path.isdir(folder)]
        return _unique(system + _resolved(self.shown))

    def covered(self) -> list[Path]:
        """What is hidden inside a shown folder (elsewhere, nothing is there to hide)."""
        roots = self.roots()
        hidden = _resolved(self.hidden) + list(etc_secrets())
        return _unique(path for path in hidden if any(_under(path, root) for root in roots) and path not in roots)

    def visible(self, path: Path) -> bool:
        """Whether the process sees host `path` (resolved) read-only: the workspace aside."""
        if any(_under(path, folder) for folder in _resolved(self.on_top)):
            return True
        in_roots = any(_under(path, root) for root in self.roots())
        return in_roots and not any(_under(path, hidden) for hidden in self.covered())


def wrap(view: View, bwrap: str | None = None) -> list[str]:
    """bwrap's arguments (up to the command) for a process that sees `view`."""
    bwrap = bwrap or bubblewrap()
    if bwrap is None:
        raise RuntimeError("bubblewrap is not available")
    args = [bwrap, "--die-with-parent", "--cap-drop", "ALL", "--bind", "/proc", "/proc", "--dev", "/dev"]
    if os.geteuid() == 0:  # root's capabilities would undo every mount: run as `nobody`, without them
        args[2:2] = ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    args += ["--size", str(view.tmp_bytes), "--tmpfs", "/tmp"]  # first: a workspace may be under the host's /tmp
    for folder in SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    roots = view.roots()
    for link in ETC_LINKS:
        target = Path(os.path.realpath(link))
        if target.is_file() and not any(_under(target, root) for root in roots):
            args += ["--ro-bind", str(target), str(target)]
    args += _binds("--ro-bind", view.shown, roots)
    emptied = []
    for path in view.covered():
        if path.is_dir():
            args += ["--tmpfs", str(path)]
            emptied.append(str(path))
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += _binds("--ro-bind", view.on_top, roots) + _binds("--bind", view.writable, roots)
    # The new root (a tmpfs holding the mount points) and the emptied folders stay empty.
    for folder in emptied:
        args += ["--remount-ro", folder]
    return [*args, "--remount-ro", "/"]


def _binds(kind: str, paths: list[Path], roots: list[Path]) -> list[str]:
    """Each path mounted where it really is; and where it is named through a link (a data folder
    linked from another disk), under that name too, as the CLI is given it (its config folder, its
    `add_dirs`), unless the name lies in a shown folder (whose links are the host's own)."""
    args = []
    for path in paths:
        real = Path(os.path.realpath(path))
        if not real.exists():
            continue
        args += [kind, str(real), str(real)]
        named = Path(os.path.abspath(path))
        if named != real and not any(_under(named, root) for root in roots):
            args += [kind, str(real), str(named)]
    return args


@cache
def etc_secrets(etc: str = "/etc") -> tuple[Path, ...]:
    """What in /etc only some users may read (not world-readable): shadow, gshadow, sudoers, SSH
    host keys, ssl/private, a `.env` an operator put there... A folder closed to others is hidden
    whole. Read once: the gateway's own /etc does not change under it."""
    found: list[Path] = []
    for top, folders, files in os.walk(etc):
        for name in list(folders):
            path = os.path.join(top, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode) and (not mode & stat.S_IROTH or not mode & stat.S_IXOTH):
                found.append(Path(path))
                folders.remove(name)
        for name in files:
            path = os.path.join(top, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode) and not mode & stat.S_IROTH:
                found.append(Path(path))
    return tuple(found)


def own_pids(servers: dict[str, dict[str, Any]], bwrap: str) -> dict[str, dict[str, Any]]:
    """The stdio MCP servers, each started in a bubblewrap of its own inside the sandbox, with its
    own PID namespace and /proc: the sandbox's /proc is the host's (see the module docstring), where
    they would read every process's command line, other tenants' CLIs included."""
    wrapped = {}
    for name, server in servers.items():
        if server.get("type", "stdio") == "stdio" and server.get("command"):
            args = ["--die-with-parent", "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--"]
            server = {**server, "command": bwrap, "args": [*args, str(server["command"]), *(server.get("args") or [])]}
        wrapped[name] = server
    return wrapped


def out_of_sight(servers: dict[str, dict[str, Any]], view: View) -> list[str]:
    """The stdio MCP servers whose command, or a file among their arguments, the sandbox does not
    show: Claude Code cannot start them there, and says so to no one but Claude ("No such tool
    available"). As `name: path`."""
    found = []
    for name, server in servers.items():
        if server.get("type", "stdio") != "stdio":
            continue
        command = str(server.get("command", ""))
        paths = [shutil.which(command) or command]
        paths += [str(arg) for arg in server.get("args") or [] if str(arg).startswith("/")]
        for path in paths:
            if os.path.isabs(path) and not view.visible(Path(os.path.realpath(path))):
                found.append(f"{name}: {path}")
    return found


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _resolved(paths: Iterable[Path]) -> list[Path]:
    return [Path(os.path.realpath(path)) for path in paths]


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def cli_shown(cli_path: str | None, hidden: list[Path]) -> Path:
    """What of the CLI the sandbox shows: its real folder (found as the launcher finds it, a bare
    name on PATH), or the executable alone where that folder is, or holds, one the sandbox hides (a
    CLI kept in the gateway's working folder must not show the working folder, `.env` and all)."""
    named = cli_path or bundled_cli() or "claude"
    found = named if os.sep in named else shutil.which(named) or named
    cli = Path(os.path.realpath(found))
    folder = cli.parent
    if any(folder == own or folder in own.parents for own in _resolved(hidden)):
        return cli
    return folder


class AgentSandbox:
    """The launcher's sandbox variables (engine/wrapper_script.py) for each agent process: its bubblewrap, and
    its cap on processes (pids.py)."""

    def __init__(self, settings: Settings, work: GatewayFolder | None) -> None:
        self.settings = settings
        self.work = work
        self.pids: PidsCgroup | None = None  # made when the first agent process starts
        self.unseen_servers: set[str] = set()  # MCP servers already reported out of sight

    def view(self, cwd: Path, config_dir: Path) -> View:
        """What a process of workspace `cwd` with config folder `config_dir` sees."""
        settings = self.settings
        own = [settings.data_path, settings.config_dir, Path.home(), Path.cwd(), Path(".env")]
        own += [Path(settings.mcp_config)] if settings.mcp_config else []
        own += [self.work.path] if self.work is not None and self.work.path is not None else []
        return View(
            writable=[cwd, config_dir],
            shown=[Path(folder) for folder in settings.agent_read_dir_list],
            hidden=own,
            on_top=[cli_shown(settings.cli_path, own)],
            tmp_bytes=settings.agent_tmp_mb * MIB,
        )

    def env(self, cwd: Path, config_dir: Path, servers: dict[str, dict[str, Any]]) -> dict[str, str]:
        view = self.view(cwd, config_dir)
        for unseen in out_of_sight(servers, view):
            if unseen not in self.unseen_servers:
                self.unseen_servers.add(unseen)
                log.warning(
                    "MCP server %s is out of the agent sandbox's sight (it shows the system folders /usr, "
                    "/bin, /lib* and /etc, and GATEWAY_AGENT_READ_DIRS): Claude Code cannot start it there. "
                    "Install it, and the interpreter it runs on, under /usr/local or in a folder named in "
                    "GATEWAY_AGENT_READ_DIRS.",
                    unseen,
                )
        words = wrap(view)
        env = {WRAP_VARIABLE: " ".join(shlex.quote(word) for word in words)}
        if self.pids is None:
            self.pids = PidsCgroup()
        cgroup = self.pids.new(self.settings.agent_max_pids)
        if cgroup is not None:
            env[CGROUP_VARIABLE] = str(cgroup)
        elif os.geteuid() != 0:
            env[NPROC_VARIABLE] = str(self.settings.agent_max_pids)
        # As root there is no cap without a cgroup: the sandbox runs as root's `nobody` without
        # capabilities, and RLIMIT_NPROC would count every process root has on the host.
        return env

    def close(self) -> None:
        """The gateway stops: its cgroups go (their processes have exited)."""
        if self.pids is not None:
            self.pids.close()
