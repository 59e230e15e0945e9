"""One connected Claude Code CLI process and the task that owns it.

Requests use a process from their own tasks and may be cancelled at any await, which is no place
to wait for a CLI to exit. So each process gets an owner task that connects, waits until asked
to close or until the CLI exits by itself, then stops the turn in flight (interrupt: about 10 ms;
closing stdin mid-turn instead leaves the CLI running for the SDK's 5 s grace) and disconnects.
Closing is a non-blocking request that a cancelled request can always make; `on_exit` callbacks
run once the CLI is gone.

The owner is cancelled at most once, and only while it connects (a CLI stuck at start-up). Once
connected it is never cancelled: the SDK's disconnect escalates from stdin EOF to SIGTERM and
SIGKILL, and a raw asyncio cancellation in the middle of that skips the escalation and leaks
the CLI (measured: one leaked ~200 MB process per turn that hit the request timeout, when a
second close() during the disconnect cancelled the owner).

A CLI that dies by itself (killed, out of memory) is noticed at once, idle or not: the owner also
waits on the CLI's pid (a Linux pidfd, else a 1 s poll; the pid comes from the CLI's initialize
answer), so a dead spare or parked process frees its slot without anyone having to use it first.

An idle CLI still takes about 0.6% of a core (measured: timers of its own), so the pool freezes
idle ones (SIGSTOP) and thaws them (SIGCONT) before any use: a frozen process takes no CPU at all,
and thawing is a signal. Every way into the process (a turn, a model change, closing) thaws it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import suppress
from typing import Any, Literal

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, CLIConnectionError, ResultMessage
from claude_agent_sdk import Message as SdkMessage

from ..agent.prompts import PermissionPrompts
from ..wrapper_script import WRAP_VARIABLE
from .tools import ToolBridge
from .web_gate import WebGate

log = logging.getLogger(__name__)

INTERRUPT_TIMEOUT = 2.0  # an interrupt answers in ~10 ms; a wedged CLI is terminated instead
EXIT_POLL_INTERVAL = 1.0  # where there is no pidfd

State = Literal["new", "connecting", "connected", "closing", "exited"]


class ClaudeProcess:
    def __init__(
        self,
        options: ClaudeAgentOptions,
        bridge: ToolBridge | None = None,
        gate: WebGate | None = None,
        on_exit: Sequence[Callable[[], None]] = (),
        prompts: PermissionPrompts | None = None,
    ) -> None:
        self._stderr: deque[str] = deque(maxlen=40)
        options.stderr = self._stderr.append
        self.options = options
        self.bridge = bridge  # the client's functions it offers, served in this gateway process
        self.gate = gate  # the hosted web tools' rules it holds (web_gate.py)
        self.prompts = prompts  # agent mode's permission prompts (engine/agent/prompts.py): the reader's too
        self.state: State = "new"
        self.pid: int | None = None
        self.died = False  # exited by itself, not because it was asked to
        self._client: ClaudeSDKClient | None = None
        self._owner: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._close_requested = asyncio.Event()
        self._interrupt_on_close = False
        self._cancelled_connect = False
        self.in_turn = False
        self.frozen = False
        self.model = options.model  # what it answers with (set_model changes it)
        self.tenant: str | None = None  # whose turns it runs (None: a spare, not yet taken)
        self.cost_reported = 0.0  # Claude Code's running total_cost_usd, as last reported
        self._exit_callbacks: list[Callable[[], None]] = list(on_exit)

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the CLI has exited (at once if it already has)."""
        if self.state == "exited":
            callback()
        else:
            self._exit_callbacks.append(callback)

    @property
    def sandboxed(self) -> bool:
        """Runs in the agent sandbox, whose private /tmp is memory too (memory.py)."""
        return WRAP_VARIABLE in (self.options.env or {})

    @property
    def alive(self) -> bool:
        """Connected and not asked to close: a turn can start on it now."""
        return self.state == "connected" and not self._close_requested.is_set()

    @property
    def connecting(self) -> bool:
        """Still starting, and not asked to close: it will be usable once `ready()` returns."""
        return self.state in ("new", "connecting") and not self._close_requested.is_set()

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    async def start(self, timeout: float) -> None:
        """Spawn and initialise the CLI; raises what connect() raised, or TimeoutError."""
        self.launch()
        await self.ready(timeout)

    def launch(self) -> None:
        """Start spawning in the background; `ready()` waits for it (a spare is taken any time after)."""
        self._ready = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved here
        self._owner = asyncio.create_task(self._own(), name="claude-process-owner")
        self._owner.add_done_callback(self._exited)

    async def ready(self, timeout: float) -> None:
        """Until the CLI is connected; closes it on failure or timeout (a spare taken while it starts)."""
        assert self._ready is not None, "start() first"
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except BaseException:
            self.close(interrupt=True)
            raise

    async def _own(self) -> None:
        assert self._ready is not None
        client = ClaudeSDKClient(self.options)
        self.state = "connecting"
        try:
            await client.connect()
        except BaseException as exc:  # connect() disconnects after itself
            self.state = "exited"
            if not self._ready.done():
                self._ready.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        try:
            self._client = client
            self.state = "connected"
            info = await client.get_server_info() or {}
            self.pid = info.get("pid") if isinstance(info.get("pid"), int) else None
            if not self._ready.done():
                self._ready.set_result(None)
            self.died = await self._closed_or_exited()
            if self._interrupt_on_close and not self.died:
                with suppress(Exception):
                    await asyncio.wait_for(client.interrupt(), INTERRUPT_TIMEOUT)
        finally:
            self.state = "closing"
            self._client = None
            await client.disconnect()
            self.state = "exited"

    async def _closed_or_exited(self) -> bool:
        """Wait until close() is asked for (False) or the CLI exits by itself (True)."""
        closed = asyncio.ensure_future(self._close_requested.wait())
        exited = asyncio.ensure_future(_exit_of(self.pid)) if self.pid else None
        try:
            await asyncio.wait([closed] if exited is None else [closed, exited], return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if exited is not None:
                exited.cancel()
        if exited is not None and exited.done() and not exited.cancelled() and not self._close_requested.is_set():
            log.warning("Claude Code process %s exited by itself; its slot is freed", self.pid)
            self._close_requested.set()
            return True
        return False

    def _exited(self, _task: asyncio.Task[None]) -> None:
        self.state = "exited"
        if self._ready is not None and not self._ready.done():  # cancelled before it could start
            self._ready.set_exception(CLIConnectionError("The Claude Code process was closed while starting"))
        callbacks, self._exit_callbacks = self._exit_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("an exit callback of a Claude process failed")

    def freeze(self) -> None:
        """Stop an idle CLI (no turn, not closing): it takes no CPU until `thaw`."""
        if self.pid is not None and self.alive and not self.in_turn and not self.frozen:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGSTOP)
                self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.pid is not None:
            self.frozen = False
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)

    async def set_model(self, model: str | None) -> None:
        """Answer with `model` from the next turn on (about 3 ms: the CLI takes it at run time)."""
        if model != self.model:
            client = self._client
            if client is None or not self.alive:
                raise CLIConnectionError("The Claude Code process has exited")
            self.thaw()
            await client.set_model(model)
            self.model = model

    async def server_info(self) -> dict[str, Any]:
        """The CLI's answer to initialize: models, account, version."""
        if self._client is None:
            raise CLIConnectionError("Claude process is not connected")
        return await self._client.get_server_info() or {}

    async def turn(self, message: dict[str, Any]) -> AsyncGenerator[SdkMessage, None]:
        """Send one user message; yield what the CLI answers, up to and including the result."""
        client = self._client
        if client is None or not self.alive:
            raise CLIConnectionError("The Claude Code process has exited")
        self.thaw()
        if self.gate is not None:
            self.gate.new_turn()

        async def one_message() -> AsyncGenerator[dict[str, Any], None]:
            yield message

        self.in_turn = True
        try:
            await client.query(one_message())
            async for sdk_message in client.receive_response():
                if isinstance(sdk_message, ResultMessage):
                    self.in_turn = False  # the CLI is idle again, whatever the reader does next
                yield sdk_message
        finally:
            if self.in_turn:  # left mid-turn (error, cancel, disconnect): the turn must stop
                self.in_turn = False
                self.close(interrupt=True)

    def close(self, interrupt: bool = False) -> None:
        """Ask the owner to stop any turn in flight and end the process. Never blocks; any number
        of calls from anywhere are safe."""
        self._interrupt_on_close = self._interrupt_on_close or interrupt
        self.thaw()  # a stopped CLI reads neither an interrupt nor the end of its input
        self._close_requested.set()
        owner = self._owner
        if (
            self.state in ("new", "connecting")
            and owner is not None
            and not owner.done()
            and not self._cancelled_connect
        ):
            # Stuck at start-up: cancel connect() once; it disconnects (shielded) as it unwinds.
            self._cancelled_connect = True
            owner.cancel()

    async def wait_closed(self) -> None:
        """Until the CLI is gone (without cancelling the owner if this wait is cancelled)."""
        if self._owner is not None:
            await asyncio.wait({self._owner})


async def _exit_of(pid: int) -> None:
    """Until process `pid` has exited."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(pid)  # Linux 5.3+
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        while _exists(pid):
            await asyncio.sleep(EXIT_POLL_INTERVAL)
        return
    gone: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, lambda: None if gone.done() else gone.set_result(None))
    try:
        await gone
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
