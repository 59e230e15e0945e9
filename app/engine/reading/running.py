"""One turn's SDK messages as the gateway's events, under the request deadline.

The turn ends for the client when the CLI's result arrives, when Claude stops to call the client's
functions, or when a stop string shows up; closing the messages then interrupts whatever the CLI
does next. A turn past the deadline is interrupted and answered 504; a CLI that exits mid-turn is a
502 that says so (its stderr goes to the log, see failures.py).

Calls of the client's functions in a streamed answer end with the answer's stop reason. A whole
(unstreamed) answer, which Claude Code sends after a stream broke off, has none: the CLI writes
its blocks, then calls the first function and waits. So the tool bridge's "a call is waiting"
signal ends such an answer, once whatever the CLI wrote before it has been read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from claude_agent_sdk import Message as SdkMessage
from claude_agent_sdk import ProcessError

from ...core.errors import GatewayError, upstream_error
from ...core.events import Event
from ..processes.process import ClaudeProcess
from .failures import sdk_exception_error
from .reader import TurnReader
from .stops import StopScanner

# What the CLI wrote before it called a function is already in the SDK's buffer when the call
# arrives; reading it takes a few event-loop turns, far less than this.
DRAIN_BEFORE_CALL = 0.05


class TurnMessages:
    """A turn's SDK messages, read by a task that may stay pending across a held turn (so that
    waiting for a message and for a function call at once never cancels the SDK's reading)."""

    def __init__(self, source: AsyncGenerator[SdkMessage, None]) -> None:
        self._source = source
        self._next: asyncio.Future[SdkMessage] | None = None
        self.ended = False

    async def next(self, calling: asyncio.Event | None = None) -> SdkMessage | None:
        """The next message; None at the end, or when `calling` is set and nothing more came."""
        if self._next is None and calling is None:
            # Nothing to race: read in this task. A task per message costs two more event-loop
            # turns, about a fifth of the gateway's own CPU per streamed delta (bench/framing.py).
            try:
                return await self._source.__anext__()
            except StopAsyncIteration:
                self.ended = True
                return None
        if self._next is None:
            self._next = asyncio.ensure_future(self._source.__anext__())
        if calling is None:
            await asyncio.wait({self._next})
        else:
            called: asyncio.Future[Any] = asyncio.ensure_future(calling.wait())
            pending: set[asyncio.Future[Any]] = {self._next, called}
            try:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finally:
                called.cancel()
            if not self._next.done():
                await asyncio.wait({self._next}, timeout=DRAIN_BEFORE_CALL)
            if not self._next.done():
                return None
        task, self._next = self._next, None
        try:
            return task.result()
        except StopAsyncIteration:
            self.ended = True
            return None

    async def aclose(self) -> None:
        if self._next is not None and not self._next.done():
            self._next.cancel()
            await asyncio.wait({self._next})
        await self._source.aclose()


async def turn_events(
    process: ClaudeProcess,
    messages: TurnMessages,
    reader: TurnReader,
    stops: StopScanner | None,
    deadline: float,
    default_retry_after: int,
) -> AsyncGenerator[Event, None]:
    """The events of the turn's SDK messages, until the turn ends or waits for the client."""
    timed_out = False

    def expire() -> None:
        nonlocal timed_out
        timed_out = True
        process.close(interrupt=True)

    timer = asyncio.get_running_loop().call_later(deadline, expire)
    bridge = process.bridge
    try:
        while not (reader.finished or (stops and stops.hit)):
            calling = bridge.calling if bridge is not None and reader.unstreamed_calls_pending else None
            message = await messages.next(calling)
            if message is None and not messages.ended:  # the CLI waits for the client's results
                for event in reader.end_unstreamed_calls():
                    yield event
                break
            if message is None:
                break
            for event in _filtered(reader.feed(message), reader, stops):
                yield event
    except Exception as exc:
        # After a timeout the CLI reports the interrupt as a failed turn: the timeout is the news.
        if not timed_out:
            if isinstance(exc, GatewayError):
                raise
            raise sdk_exception_error(exc, process.stderr_tail, default_retry_after) from exc
    finally:
        timer.cancel()
    if timed_out:
        raise upstream_error(504, "Claude did not finish the turn in time.", "timeout")
    if not reader.finished and not (stops and stops.hit):
        if process.died:  # the owner saw it exit and closed the pipes before the SDK could say so
            exited = ProcessError("The Claude Code process exited", exit_code=None)
            raise sdk_exception_error(exited, process.stderr_tail, default_retry_after)
        raise upstream_error(502, "The Claude Code process ended the turn without a result.", "claude_process_failed")


def _filtered(events: list[Event], reader: TurnReader, stops: StopScanner | None) -> list[Event]:
    """The events to pass on: with stop strings, the answer ends at the first one, and nothing
    read after it in the same batch goes out."""
    if stops is None:
        return events
    out: list[Event] = []
    for event in events:
        out += stops.filter(event, reader.consumed(), reader.model)
        if stops.hit:
            break
    return out
