"""The bubblewrap around agent processes (app/engine/sandbox.py), run for real where it can run."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.engine import sandbox

needs_bubblewrap = pytest.mark.skipif(sandbox.bubblewrap() is None, reason="bubblewrap cannot run here")


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp (which the sandbox replaces with an empty one), as a real install's."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        yield Path(folder)


@needs_bubblewrap
def test_paths_reached_through_a_symlink_are_mounted(outside_tmp):
    """A virtualenv linked from elsewhere (the CLI's folder is shown again inside a hidden one), a
    linked workspace and a linked hidden folder: bubblewrap cannot make mount points through a
    symlink, so every CLI start failed with exit code 1."""
    real = outside_tmp / "real"
    (real / "bin").mkdir(parents=True)
    (real / "bin" / "tool").write_text("tool\n")
    (real / "work").mkdir()
    (real / "secret").mkdir()
    (real / "secret" / "key").write_text("s3cret")
    link = outside_tmp / "link"
    link.symlink_to(real)
    args = sandbox.wrap([link / "work"], [link / "secret"], [link / "bin"])
    script = f"cat {link}/bin/tool; echo made > {link}/work/out; ls -A {link}/secret | wc -l"
    run = subprocess.run([*args, "sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["tool", "0"]
    assert (real / "work" / "out").read_text() == "made\n"


@needs_bubblewrap
def test_hidden_folders_are_empty_and_the_rest_is_read_only(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "key").write_text("s3cret")
    args = sandbox.wrap([], [hidden], [])
    run = subprocess.run(
        [*args, "sh", "-c", f"ls -A {hidden} | wc -l; touch /usr/x 2>&1; cat /etc/shadow | wc -c"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = run.stdout.splitlines()
    assert lines[0] == "0" and "Read-only file system" in lines[1] and lines[2] == "0", run.stdout
    assert not Path("/usr/x").exists()


def test_mcp_servers_out_of_the_sandboxs_sight_are_found(outside_tmp):
    """Claude Code cannot start a stdio MCP server whose command or script the sandbox hides, and
    tells no one but Claude: the gateway logs them (options.py)."""
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
    }
    found = sandbox.out_of_sight(servers, [home], [home / "shown"])
    assert found == [f"pyenv: {linked}", "script: /tmp/server.sh"]


def test_the_cgroups_of_dead_gateways_go_and_a_live_ones_stay(tmp_path):
    from app.engine.sandbox import _remove_dead_gateways

    dead, live = tmp_path / "claude-gateway-999999999", tmp_path / f"claude-gateway-{os.getpid()}"
    for folder in (dead / "cli-1", dead / "cli-2", live / "cli-1"):
        folder.mkdir(parents=True)
    _remove_dead_gateways(tmp_path)
    assert not dead.exists() and (live / "cli-1").is_dir()
