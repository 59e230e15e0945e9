"""The image's install and start steps, run outside Docker (no image can be built here): as an
unprivileged user, in a fresh folder holding only what deploy/Dockerfile copies, deploy/install.sh
installs the locked dependencies with Poetry (from PyPI), then `python main.py` starts with keys
on 0.0.0.0 and answers /health.

Slow on a cold cache (the bundled Claude Code CLI alone is a ~100 MB wheel): Poetry's and pip's
caches are kept in CACHE, owned by the test user, between runs.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, alive, free_port, wait_until

pytestmark = pytest.mark.slow

USER = "gateway-deploy-test"
PATH = "/usr/local/bin:/usr/bin:/bin"  # the user's: nothing of root's (pyenv's shims lie in /root)
CACHE = Path("/var/tmp/claude-gateway-deploy-test-cache")
# What deploy/Dockerfile copies into the image (besides the venv it builds from the first three).
COPIED = ["pyproject.toml", "poetry.lock", "poetry.toml", "deploy/install.sh", "main.py", "app"]
KEY = "sk-deploy-test-key"
# How this machine reaches PyPI (a proxy, its CA), handed on to the test user.
NETWORK = re.compile(
    r"(?i)^(https?_proxy|no_proxy|ssl_cert_file|ssl_cert_dir|requests_ca_bundle|pip_cert|pip_index_url)$"
)


def test_install_and_start_as_unprivileged_user():
    user = unprivileged_user()
    python = python_for(user)
    folder = Path(tempfile.mkdtemp(prefix="gateway-deploy-"))
    try:
        copy_image_files(folder)
        chown_tree(folder, user)
        install = run_as(user, ["sh", "deploy/install.sh"], folder, {"PYTHON": python}, timeout=1200)
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Claude Code" in install.stdout
        assert (folder / ".venv" / "bin" / "python").exists()

        # Without keys, 0.0.0.0 is refused: the image's GATEWAY_HOST needs them.
        refused = run_as(user, [".venv/bin/python", "main.py"], folder, gateway_env(folder, keys=False), timeout=60)
        assert refused.returncode != 0
        assert "Refusing to bind 0.0.0.0" in refused.stderr

        port = free_port()
        gateway = start_as(user, [".venv/bin/python", "main.py"], folder, gateway_env(folder, port=port))
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_until(lambda: answers(f"{base}/health"), timeout=60), gateway_output(gateway)
            assert httpx.get(f"{base}/health").json() == {"status": "ok"}
            # /health/ready is issue 14's (another branch): checked where this branch has it.
            ready = httpx.get(f"{base}/health/ready")
            if ready.status_code != 404:
                assert wait_until(lambda: answers(f"{base}/health/ready"), timeout=60), ready.text
            # Keys are enforced: the gateway listens on every interface.
            assert httpx.get(f"{base}/v1/models").status_code == 401
            assert httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
            assert owner_of(gateway.pid) == user.pw_uid
        finally:
            stop(gateway)
    finally:
        kill_processes_of(user)
        shutil.rmtree(folder, ignore_errors=True)


def unprivileged_user() -> pwd.struct_passwd:
    """This test's own user when run as root (made once), else the current (non-root) user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        if not shutil.which("useradd"):
            pytest.skip("running as root without useradd: no unprivileged user to install as")
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        return pwd.getpwnam(USER)


def python_for(user: pwd.struct_passwd) -> str:
    """A Python 3.10+ with venv that `user` may run (the test's own may lie in root's home)."""
    for candidate in ("python3.11", "python3", "python3.12", "python3.10"):
        path = shutil.which(candidate, path=PATH)
        if not path:
            continue
        probe = ["-c", "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))"]
        try:
            if run_as(user, [path, *probe], Path("/"), {}, timeout=60).returncode == 0:
                return path
        except OSError:
            continue
    pytest.skip(f"no Python 3.10+ with venv that {user.pw_name} can run")


def copy_image_files(folder: Path) -> None:
    for name in COPIED:
        source, target = ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def chown_tree(folder: Path, user: pwd.struct_passwd) -> None:
    if os.geteuid() != 0:
        return
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


def user_env(user: pwd.struct_passwd, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: nothing of the test's own venv, pyenv or keys; the network's settings."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(CACHE, user.pw_uid, user.pw_gid)
    return {
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "PATH": PATH,
        "LANG": "C.UTF-8",
        "PIP_CACHE_DIR": str(CACHE / "pip"),
        "POETRY_CACHE_DIR": str(CACHE / "poetry"),
        **{name: value for name, value in os.environ.items() if NETWORK.match(name)},
        **extra,
    }


def as_user(user: pwd.struct_passwd) -> dict:
    if os.geteuid() != 0:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def run_as(user, command, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=user_env(user, env), capture_output=True, text=True, timeout=timeout, **as_user(user)
    )


def start_as(user, command, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """In a process group of its own, so that stop() ends it and every child it started."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=user_env(user, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **as_user(user),
    )


def gateway_env(folder: Path, port: int = 8000, keys: bool = True) -> dict[str, str]:
    """The image's ENV (deploy/Dockerfile), with the data folder in the fresh folder."""
    env = {"GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": str(port), "GATEWAY_DATA_DIR": str(folder / "data")}
    if keys:
        env |= {"GATEWAY_API_KEYS": KEY, "GATEWAY_ADMIN_KEY": "sk-deploy-test-admin-0123456789abcdef"}
    return env


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def owner_of(pid: int) -> int:
    return os.stat(f"/proc/{pid}").st_uid


def gateway_output(process: subprocess.Popen) -> str:
    if process.poll() is None:
        return "gateway still starting"
    return process.stdout.read() if process.stdout else ""


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


def kill_processes_of(user: pwd.struct_passwd) -> None:
    """Whatever the test user still runs (only this test runs as that user), by pid."""
    if user.pw_name != USER:
        return
    for pid in user_pids(user.pw_uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert wait_until(lambda: not user_pids(user.pw_uid), timeout=10)


def user_pids(uid: int) -> list[int]:
    """The live processes of `uid` (zombies are not: their parent reaps them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and alive(int(entry.name)):
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids
