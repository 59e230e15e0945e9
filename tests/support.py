"""Helpers shared by the test suites: request bodies, what Claude received, the app with a scripted
engine, running the gateway as a real server, counting processes. Test modules import helpers from
here only, never from each other."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from app.core.credentials import Credential
from app.core.errors import model_not_found
from app.core.events import Event, Finish, TextDelta
from app.core.settings import Settings
from app.core.turn import Turn
from app.engine.interface import ModelInfo
from app.http.app import create_app

ROOT = Path(__file__).resolve().parent.parent
FAKE_CLAUDE = ROOT / "tests" / "fakes" / "fake_claude.py"

HISTORY = [
    {"role": "user", "content": "My name is Ann."},
    {"role": "assistant", "content": "Hello Ann!"},
]


def ask(text: str, history: list[dict] | None = None, **extra) -> dict:
    """A chat completions body: the history, then a user message with `text`."""
    return {"model": "sonnet", "messages": [*(history or []), {"role": "user", "content": text}], **extra}


def conversation(body: dict) -> list[tuple[str, list[dict]]]:
    """The user/assistant turns Claude received, without the CLI's own reminders."""
    turns = []
    for message in body["messages"]:
        if message["role"] not in ("user", "assistant"):
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        blocks = [b for b in blocks if not (b.get("type") == "text" and b["text"].startswith("<system-reminder>"))]
        if blocks:
            turns.append((message["role"], blocks))
    return turns


def texts(turns):
    return [(role, " ".join(b.get("text", f"<{b['type']}>") for b in blocks)) for role, blocks in turns]


class ScriptedEngine:
    """Answers every turn with the last user text, or with the events of `script` if set; no
    Claude involved."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.script: list[Event] | None = None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def ready(self) -> bool:
        return True

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo("sonnet", "Sonnet")]

    def resolve_model(self, name: str) -> str | None:
        if name != "sonnet":
            raise model_not_found(name)
        return name

    def known_models(self) -> set[str]:
        return {"sonnet"}

    async def auth_status(self) -> dict[str, Any]:
        return {}

    def end_conversation(self, conversation_id: str) -> None: ...

    def fork_conversation(self, source: str, target: str, workspace=None, source_workspace=None) -> None: ...

    async def count_tokens(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        return 1, "estimate"

    def close_idle_processes(self) -> int:
        return 0

    def stats(self, conversations=None) -> dict[str, Any]:
        return {"scope": "engine" if conversations is None else sorted(conversations)}

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        self.turns.append(turn)
        if self.script is not None:
            for event in self.script:
                yield event
            return
        yield TextDelta(next((b["text"] for b in turn.prompt.content if b.get("type") == "text"), ""))
        yield Finish("stop")


def make_client(**settings) -> tuple[httpx.AsyncClient, ScriptedEngine]:
    """The app, in-process, on a ScriptedEngine, with these settings."""
    engine = ScriptedEngine()
    app = create_app(Settings(_env_file=None, **settings), engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost"), engine


def official_clients(client: httpx.AsyncClient) -> tuple[AsyncOpenAI, AsyncAnthropic]:
    """The `openai` and `anthropic` Python clients on the in-process app of `client` (make_client)."""
    app = client._transport.app  # type: ignore[attr-defined]
    openai = AsyncOpenAI(base_url="http://localhost/v1", api_key="k", http_client=client, max_retries=0)
    # The anthropic client takes an httpx2 client (its fork of httpx) only.
    transport = httpx2.ASGITransport(app=app)
    anthropic = AsyncAnthropic(
        base_url="http://localhost", api_key="k", http_client=httpx2.AsyncClient(transport=transport), max_retries=0
    )
    return openai, anthropic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux /proc), zombies excluded."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def direct_children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (for the gateway: its Claude Code CLIs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class GatewayServer:
    """`python main.py` in a subprocess: the gateway exactly as a user starts it."""

    def __init__(self, env: dict[str, str], tmp: Path, args: tuple[str, ...] = (), cwd: Path = ROOT) -> None:
        self.args = args  # more of main.py's options (--demo)
        self.cwd = cwd  # where it runs from (and reads a .env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"gateway-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "ANTHROPIC_", "CLAUDE_"))},
            "GATEWAY_WORK_DIR": str(tmp / f"work-{self.port}"),
            "GATEWAY_DATA_DIR": str(tmp / "data"),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> GatewayServer:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--port", str(self.port), *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not wait_until(self._healthy, timeout=90):  # a loaded CI machine (parallel workers) starts slowly
            self.stop()
            raise RuntimeError(f"gateway did not start:\n{self.log()}")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def children(self) -> list[int]:
        assert self.process is not None
        return descendants(self.process.pid)

    def clis(self) -> list[int]:
        """The gateway's own child processes: its Claude Code CLIs."""
        assert self.process is not None
        return direct_children(self.process.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if hasattr(self, "_log"):
            self._log.close()


def streamed_step(client, messages, tools) -> tuple[dict[str, Any], str | None]:
    """One streamed step, put together as the client will send it back, and its finish reason."""
    content, calls, finish = "", {}, None
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, tools=tools, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for part in delta.tool_calls or []:
            call = calls.setdefault(
                part.index,
                {"id": part.id, "type": "function", "function": {"name": part.function.name, "arguments": ""}},
            )
            call["function"]["arguments"] += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message, finish


def npm_project(project: Path, client: str) -> str:
    """Node.js, with the npm project in `project` installed from its package-lock.json (`npm ci`)
    when it is not yet or the lock is newer (.ci/run installs them ahead). A test of `client` is
    skipped only where Node.js or npm is missing; an install that fails is a failure."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"{client} tests need Node.js (>= 18) and npm on PATH")
    installed = project / "node_modules" / ".package-lock.json"
    lock = project / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=project, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci could not install {client} from {lock}:\n{done.stderr[-2000:]}")
    return node


def command_line(pid: int) -> bytes:
    """A process's command line (Linux /proc; empty once it is gone), which every local user can read."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
