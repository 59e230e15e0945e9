"""What an agent process sees of the host, end to end: the real CLI in the gateway's bubblewrap
(app/engine/agent/sandbox.py), its tools scripted by the fake upstream (`TOOL:Name {...}` lines).

The sandbox is an allow-list. Canary files (0600 and 0644) in the gateway's working folder (and
its `.env`), next to its MCP config, in /var/tmp, /srv and /opt, in another session's workspace and
in the data folder must be out of reach of Bash, Read, Grep and Glob. Before, the host was shown
whole minus a deny-list, and `cat` printed the working folder's `.env`. Also: stdio MCP servers see
no process outside their sandbox, and the sandbox's /tmp is capped (GATEWAY_AGENT_TMP_MB).

Everything the test makes lies outside /tmp and the home folder (hidden for other reasons), in
folders of its own that it removes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY
from tests.support import ROOT, GatewayServer, wait_until

pytestmark = pytest.mark.e2e

CANARY = "canary-" + uuid.uuid4().hex  # in the canaries' names, and a process's command line
SECRET = "secret-" + uuid.uuid4().hex  # in their contents
PROBE = ROOT / "tests" / "fakes" / "probe_mcp.py"


def sandbox_python() -> str:
    """A Python interpreter in the sandbox's sight (the system's: the tests' may be under home)."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        real = os.path.realpath(candidate or "/nonexistent")
        if candidate and real.startswith(("/usr/", "/bin/")):
            return real
    pytest.skip("no Python interpreter under /usr")


def plant(folder: Path) -> list[Path]:
    """Two canary files in `folder`, one only its owner may read."""
    files = []
    for mode in (0o600, 0o644):
        path = folder / f"{CANARY}-{mode:o}.txt"
        path.write_text(f"{SECRET} {mode:o}\n")
        path.chmod(mode)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def places():
    """Test-private folders in the places the sandbox must not show; removed afterwards."""
    made = []
    try:
        root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="gateway-sandbox-"))
        made.append(root)
        for base in ("/srv", "/opt"):
            try:
                made.append(Path(tempfile.mkdtemp(dir=base, prefix="gateway-sandbox-")))
            except OSError:
                pass  # not ours to write on this machine: those places are not probed
        yield root, made[1:]
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox_gateway(upstream, cli_config_dir, tmp_path_factory, places):
    root, others = places
    run, data, config, probe, loose = (root / name for name in ("run", "data", "config", "probe", "var-tmp"))
    for folder in (run, data, config, probe, loose):
        folder.mkdir()
    root.chmod(0o755)
    probe.chmod(0o755)
    shutil.copy(PROBE, probe)
    (run / ".env").write_text(f"# {SECRET} env\nGATEWAY_LOG_LEVEL=info\n")
    (run / ".env").chmod(0o600)
    server = {"type": "stdio", "command": sandbox_python(), "args": [str(probe / PROBE.name)]}
    server["env"] = {"PROBE_CANARY": CANARY, "PROBE_NOTE": SECRET}
    (config / "mcp.json").write_text(json.dumps({"mcpServers": {"probe": server}}))
    for folder in (run, data, config, loose, *others):
        plant(folder)
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY}
    settings = {
        "agent_mode": "true",
        "data_dir": str(data),
        "mcp_config": str(config / "mcp.json"),
        "agent_read_dirs": str(probe),
        "agent_tmp_mb": "2",
    }
    env.update({f"GATEWAY_{name.upper()}": value for name, value in settings.items()})
    gateway = GatewayServer(env, tmp_path_factory.mktemp("sandbox-gateway"), cwd=run).start()
    yield gateway
    gateway.stop()


def tool(name: str, **arguments) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def turn(gateway, steps: list[str], session: str, **claude_code) -> str:
    """One turn whose steps each call the tools of one line; its answer, `results: r1 | r2 ...`."""
    body = {
        "model": "sonnet",
        "messages": [{"role": "user", "content": "\n".join(steps)}],
        "claude_code": {"permission_mode": "acceptEdits", **claude_code},
    }
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Session-Id": session}
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=180)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_canaries_outside_the_allow_list_are_out_of_reach_of_every_tool(sandbox_gateway, fake, places):
    gateway = sandbox_gateway
    root, others = places
    # Another session's workspace, with a canary its own Write tool put there.
    turn(gateway, [tool("Write", file_path=f"{CANARY}.txt", content=f"{SECRET} alice")], session="alice")
    workspace = Path(gateway.env["GATEWAY_DATA_DIR"]) / "workspaces"
    (alice,) = workspace.glob(f"*/*/{CANARY}.txt")
    folders = [root / "run", root / "config", root / "var-tmp", root / "data", alice.parent, *others]
    files = [root / "run" / ".env", root / "config" / "mcp.json", alice]
    files += [path for folder in folders for path in folder.glob(f"{CANARY}-*.txt")]
    assert len(files) >= 3 + 2 * 5, files
    listing = " ".join(str(path) for path in files)
    # Links in the workspace too: the permission hook may let a tool through to one, the sandbox not.
    links = [f"ln -s {path} f{i}" for i, path in enumerate(files)] + [f"ln -s {p} d{i}" for i, p in enumerate(folders)]
    bash = f"for f in {listing}; do cat $f 2>&1 | head -c 200; done; grep -rs {SECRET} {' '.join(map(str, folders))}; "
    bash += "; ".join(links) + "; echo bash-done"
    targets = [str(path) for path in files] + [f"f{i}" for i in range(len(files))]
    roots = [str(folder) for folder in folders] + [f"d{i}" for i in range(len(folders))]
    steps = [
        tool("Bash", command=bash, description="probe"),
        " && ".join(tool("Read", file_path=path) for path in targets),
        " && ".join(tool("Grep", pattern=SECRET, path=folder) for folder in roots),
        " && ".join(tool("Glob", pattern="**/*", path=folder) for folder in roots),
    ]
    answer = turn(gateway, steps, session="mallory")
    results = answer.removeprefix("results: ").split(" | ")
    assert SECRET not in answer, answer
    assert "bash-done" in results[0] and results[0].count("No such file or directory") == len(files), results[0]
    assert len(results) == 1 + len(targets) + 2 * len(roots), results


def test_stdio_mcp_servers_see_no_process_outside_their_sandbox(sandbox_gateway, fake):
    """The probe server lists /proc/*/cmdline: a process of the test's with the canary in its
    command line is not among them; nor does a Bash command see it."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", CANARY])
    try:
        assert wait_until(lambda: CANARY.encode() in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes())
        steps = [
            tool("mcp__probe__lookup", key="alpha"),
            # The canary in two halves: the command's own command line must not match.
            tool(
                "Bash",
                command=f'c={CANARY[:9]}; grep -l "${{c}}{CANARY[9:]}" /proc/[0-9]*/cmdline | wc -l',
                description="ps",
            ),
        ]
        answer = turn(gateway := sandbox_gateway, steps, session="procs", mcp_servers=["probe"])
        assert "lookup(alpha) = 42" in answer and "canary=unseen" in answer, answer
        procs = int(answer.split("procs=")[1].split("]")[0].split()[0])
        assert procs < 10, answer  # its own few, not the host's
        assert answer.rstrip().endswith("| 1"), answer  # grep itself
        assert gateway.process is not None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_sandboxs_tmp_is_capped(sandbox_gateway, fake):
    """GATEWAY_AGENT_TMP_MB=2 here: a 3 MB write to $TMPDIR fails with ENOSPC; 1 MB is fine. (No `&&`
    in a scripted command: the fake upstream reads it as two tool calls.)"""
    command = 'echo "tmp=$TMPDIR"; head -c 1000000 /dev/zero > /tmp/ok; echo small-rc=$?; '
    command += 'head -c 3000000 /dev/zero > "${TMPDIR:-/tmp}/big"; echo rc=$?'
    answer = turn(sandbox_gateway, [tool("Bash", command=command, description="fill")], session="tmp")
    assert "small-rc=0" in answer and "No space left on device" in answer and "rc=1" in answer, answer
