"""One connected Claude Code CLI process and the task that owns it.

Requests use a process from their own tasks and may be cancelled at any await, which is no place
to wait for a CLI to exit. So each process gets an owner task that connects, waits until asked
to close, then stops the turn in flight (interrupt: about 10 ms; closing stdin mid-turn instead
leaves the CLI running for the SDK's 5 s grace) and disconnects. Closing is a non-blocking
request that a cancelled request can always make; `on_exit` callbacks run once the CLI is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import suppress
from typing import Any, AsyncIterator, Callable

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage
from claude_agent_sdk.types import Message as SdkMessage

log = logging.getLogger(__name__)

INTERRUPT_TIMEOUT = 2.0  # an interrupt answers in ~10 ms; a wedged CLI is terminated instead


class ClaudeProcess:
    def __init__(self, options: ClaudeAgentOptions) -> None:
        self._stderr: deque[str] = deque(maxlen=40)
        options.stderr = self._stderr.append
        self.options = options
        self._client: ClaudeSDKClient | None = None
        self._owner: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._close_requested = asyncio.Event()
        self._interrupt_on_close = False
        self.in_turn = False
        self._exit_callbacks: list[Callable[[], None]] = []

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the CLI has exited (at once if it already has)."""
        if self._owner is not None and self._owner.done():
            callback()
        else:
            self._exit_callbacks.append(callback)

    @property
    def alive(self) -> bool:
        """Connected, not asked to close, owner still running."""
        return (
            self._client is not None and not self._close_requested.is_set()
            and self._owner is not None and not self._owner.done()
        )

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    async def start(self, timeout: float) -> None:
        """Spawn and initialise the CLI; raises what connect() raised, or TimeoutError."""
        self._ready = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved here
        self._owner = asyncio.create_task(self._own(), name="claude-process-owner")
        self._owner.add_done_callback(self._exited)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except BaseException:
            self.close(interrupt=True)
            raise

    async def _own(self) -> None:
        assert self._ready is not None
        client = ClaudeSDKClient(self.options)
        try:
            await client.connect()
        except BaseException as exc:  # connect() cleans up after itself
            if not self._ready.done():
                self._ready.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._client = client
        if not self._ready.done():
            self._ready.set_result(None)
        try:
            await self._close_requested.wait()
            if self._interrupt_on_close:
                with suppress(Exception):
                    await asyncio.wait_for(client.interrupt(), INTERRUPT_TIMEOUT)
        finally:
            self._client = None
            await client.disconnect()

    def _exited(self, _task: asyncio.Task[None]) -> None:
        for callback in self._exit_callbacks:
            callback()

    async def server_info(self) -> dict[str, Any]:
        """The CLI's answer to initialize: models, account, version."""
        if self._client is None:
            raise RuntimeError("Claude process is not connected")
        return await self._client.get_server_info() or {}

    async def turn(self, message: dict[str, Any]) -> AsyncIterator[SdkMessage]:
        """Send one user message; yield what the CLI answers, up to and including the result."""
        client = self._client
        if client is None:
            raise RuntimeError("Claude process is not connected")

        async def one_message() -> AsyncIterator[dict[str, Any]]:
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
                self.close(interrupt=True)

    def close(self, interrupt: bool = False) -> None:
        """Ask the owner to stop any turn in flight and end the process. Never blocks."""
        self._interrupt_on_close = self._interrupt_on_close or interrupt
        self._close_requested.set()
        if self._client is None and self._owner is not None and not self._owner.done():
            self._owner.cancel()  # still connecting: connect() disconnects (shielded) when cancelled

    async def wait_closed(self) -> None:
        """Until the CLI is gone (without cancelling the owner if this wait is cancelled)."""
        if self._owner is not None:
            await asyncio.wait({self._owner})
