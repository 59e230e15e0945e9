"""One turn's SDK messages as the gateway's events, under the request deadline.

The turn ends for the client when the CLI's result arrives, when Claude stops to call the client's
functions, or when a stop string shows up; closing the messages then interrupts whatever the CLI
does next. A turn past the deadline is interrupted and answered 504; a CLI that exits mid-turn is a
502 that says so (its stderr goes to the log, see failures.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from claude_agent_sdk import ProcessError

from ..errors import GatewayError, upstream_error
from .failures import sdk_exception_error
from .process import ClaudeProcess
from .reader import TurnReader
from .stops import StopScanner
from .types import Event


async def turn_events(
    process: ClaudeProcess,
    sdk_messages: AsyncGenerator[Any, None],
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
    try:
        async for sdk_message in sdk_messages:
            for event in reader.feed(sdk_message):
                for out in stops.filter(event, reader.usage_so_far(), reader.model) if stops else [event]:
                    yield out
            if reader.finished or (stops and stops.hit):
                break  # closing the messages then interrupts whatever the CLI does next
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
