"""The bubblewrap around agent processes (app/engine/agent/sandbox.py), run for real where it can run."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.engine.agent import sandbox

needs_bubblewrap = pytest.mark.skipif(sandbox.bubblewrap() is None, reason="bubblewrap cannot run here")


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp (which the sandbox replaces with an empty one), as a real install's."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        yield Path(folder)


def run(view: sandbox.View, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([*sandbox.wrap(view), "sh", "-c", script], capture_output=True, text=True, timeout=30)


@needs_bubblewrap
def test_paths_reached_through_a_symlink_are_mounted(outside_tmp):
    """A virtualenv linked from elsewhere (the CLI's folder is shown again inside a hidden one), a
    linked workspace and a linked hidden folder: bubblewrap cannot make mount points through a
    symlink, so every CLI start failed with exit code 1."""
    real = outside_tmp / "real"
    (real / "secret" / "bin").mkdir(parents=True)
    (real / "secret" / "bin" / "tool").write_text("tool\n")
    (real / "work").mkdir()
    (real / "secret" / "key").write_text("s3cret")
    link = outside_tmp / "link"
    link.symlink_to(real)
    view = sandbox.View(
        writable=[link / "work"], shown=[real], hidden=[link / "secret"], on_top=[link / "secret" / "bin"]
    )
    done = run(view, f"cat {link}/secret/bin/tool; echo made > {link}/work/out; ls -A {real}/secret")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tool", "bin"]
    assert (real / "work" / "out").read_text() == "made\n"


@needs_bubblewrap
def test_only_the_system_folders_and_the_view_are_in_sight(outside_tmp):
    """An allow-list: a folder that is not named (here under /var/tmp) is not there at all; the
    system folders are read-only, and /etc's secrets are empty."""
    (outside_tmp / "key").write_text("s3cret")
    (outside_tmp / "work").mkdir()
    view = sandbox.View(writable=[outside_tmp / "work"])
    script = f"cat {outside_tmp}/key; ls -A {outside_tmp}; touch /usr/x 2>&1; cat /etc/shadow | wc -c; touch /x 2>&1"
    lines = run(view, script).stdout.splitlines() + run(view, script).stderr.splitlines()
    assert "s3cret" not in "".join(lines) and lines[0] == "work", lines
    assert "Read-only file system" in lines[1] and lines[2] == "0" and "Read-only file system" in lines[3], lines
    assert not Path("/usr/x").exists()


def test_what_etc_keeps_from_other_users_is_hidden(tmp_path):
    (tmp_path / "passwd").write_text("x")
    (tmp_path / "shadow").write_text("x")
    (tmp_path / "shadow").chmod(0o640)
    (tmp_path / "ssl" / "private").mkdir(parents=True)
    (tmp_path / "ssl" / "private").chmod(0o700)
    (tmp_path / "ssl" / "certs").mkdir()
    assert set(sandbox.etc_secrets(str(tmp_path))) == {tmp_path / "shadow", tmp_path / "ssl" / "private"}


@needs_bubblewrap
def test_the_tmp_folder_is_capped(outside_tmp):
    done = run(sandbox.View(tmp_bytes=1024 * 1024), "head -c 2000000 /dev/zero > /tmp/big; echo rc=$?")
    assert "No space left on device" in done.stderr and "rc=1" in done.stdout, done


def test_mcp_servers_out_of_the_sandboxs_sight_are_found(outside_tmp):
    """Claude Code cannot start a stdio MCP server whose command or script the sandbox does not
    show, and tells no one but Claude: the gateway logs them (sandbox.py)."""
    home = outside_tmp / "home"
    (home / ".pyenv" / "bin").mkdir(parents=True)
    python = home / ".pyenv" / "bin" / "python3"
    python.write_text("")
    python.chmod(0o755)
    linked = outside_tmp / "venv-python"
    linked.symlink_to(python)
    servers = {
        "system": {"type": "stdio", "command": "sh", "args": ["-c", "true"]},
        "pyenv": {"command": str(linked), "args": ["/usr/lib/server.py"]},
        "script": {"type": "stdio", "command": "sh", "args": ["/tmp/server.sh"]},
        "remote": {"type": "http", "url": "http://127.0.0.1/mcp"},
        "shown": {"type": "stdio", "command": str(home / "shown" / "server")},
        "elsewhere": {"type": "stdio", "command": "sh", "args": [f"{outside_tmp}/server.sh"]},
    }
    found = sandbox.out_of_sight(servers, sandbox.View(shown=[home / "shown"]))
    assert found == [f"pyenv: {linked}", "script: /tmp/server.sh", f"elsewhere: {outside_tmp}/server.sh"]


def test_the_cgroups_of_dead_gateways_go_and_a_live_ones_stay(tmp_path):
    from app.engine.agent.pids import _remove_dead_gateways

    dead, live = tmp_path / "claude-gateway-999999999", tmp_path / f"claude-gateway-{os.getpid()}"
    for folder in (dead / "cli-1", dead / "cli-2", live / "cli-1"):
        folder.mkdir(parents=True)
    _remove_dead_gateways(tmp_path)
    assert not dead.exists() and (live / "cli-1").is_dir()


@needs_bubblewrap
def test_what_the_private_tmp_holds_is_counted_as_memory(outside_tmp):
    """The sandbox's /tmp is a tmpfs: memory that no process's RSS shows. The pool counts it with
    the process's RSS (memory.tmp_in_use), through the process's root in /proc."""
    from app.engine.processes.memory import tmp_in_use
    from tests.support import descendants, wait_until

    done = outside_tmp / "done"
    view = sandbox.View(writable=[outside_tmp], tmp_bytes=8 * 1024 * 1024)
    script = f"head -c 3000000 /dev/zero > /tmp/held; touch {done}; sleep 30"
    process = subprocess.Popen([*sandbox.wrap(view), "sh", "-c", script])
    try:
        assert wait_until(done.exists, timeout=10)
        counted = max(tmp_in_use(pid) for pid in descendants(process.pid))
        assert 3_000_000 <= counted < 4_000_000, counted
    finally:
        process.kill()
        process.wait()


@needs_bubblewrap
def test_the_process_has_no_capabilities_even_for_a_gateway_run_as_root():
    """bubblewrap keeps every capability for a process that root starts: the CLI and its MCP servers
    could have unmounted the read-only binds and the hidden folders. (As root: nobody, in a user
    namespace.)"""
    done = run(sandbox.View(), "grep CapEff /proc/self/status; id -u; umount /etc 2>&1; echo rc=$?")
    lines = done.stdout.split("\n")
    assert lines[0].split() == ["CapEff:", "0000000000000000"], done
    assert lines[1] != "0" or os.geteuid() != 0, done
    assert "rc=0" not in done.stdout, done


def test_a_cli_in_a_hidden_folder_is_shown_alone_not_its_folder(tmp_path, monkeypatch):
    """A CLI kept in the gateway's working folder (or named bare and found there on PATH) must not
    show that folder, `.env` and all: only the executable is mounted then."""
    home = tmp_path / "gateway"
    (home / "bin").mkdir(parents=True)
    cli = home / "claude"
    cli.write_text("#!/bin/sh\n")
    cli.chmod(0o755)
    assert sandbox.cli_shown(str(cli), [home]) == cli
    monkeypatch.setenv("PATH", str(home))
    assert sandbox.cli_shown("claude", [home]) == cli  # a bare name is found as the launcher finds it
    assert sandbox.cli_shown(str(cli), [home / "bin"]) == cli  # a folder holding a hidden one
    elsewhere = tmp_path / "opt" / "claude"
    elsewhere.parent.mkdir()
    elsewhere.write_text("#!/bin/sh\n")
    assert sandbox.cli_shown(str(elsewhere), [home]) == elsewhere.parent
