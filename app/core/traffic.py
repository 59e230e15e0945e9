"""The interactive traffic in flight, one object per app: the turn requests whose answer (or
stream) is not finished yet, those of them the drain's timeout cut, and whether the gateway drains
(SIGTERM came: no new turns). The HTTP doors and sockets fill it (app/http/middleware/drain.py,
app/http/sockets/connection.py), the drain reads and sets it (app/http/server.py), and the batch
runner leaves the interactive turns their room by it (app/batches/runner.py). Its own object, made
before both, so that neither needs the other to see it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Traffic:
    draining: bool = False
    turns: set[asyncio.Task[Any]] = field(default_factory=set)
    cut: set[asyncio.Task[Any]] = field(default_factory=set)
