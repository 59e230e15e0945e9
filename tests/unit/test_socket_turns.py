"""A socket's turn (app/http/sockets/connection.py run_turn) that fails while it is being stopped, as a
send to a client that has just left does, leaves no "Task exception was never retrieved" behind."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

from app.core.traffic import Traffic
from app.http.sockets.connection import TurnSocket


async def test_a_turn_failing_as_its_socket_goes_leaves_no_unretrieved_error():
    unretrieved: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    socket = TurnSocket.__new__(TurnSocket)
    socket.gateway = SimpleNamespace(traffic=Traffic())
    started = asyncio.Event()

    async def turn() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("sending to a client that is gone") from None

    runner = asyncio.create_task(socket.run_turn(turn()))
    await started.wait()
    runner.cancel()
    await asyncio.wait({runner})
    assert runner.cancelled()
    del runner
    for _ in range(3):
        gc.collect()
        await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert not unretrieved, unretrieved
