"""The gateway's state, one object per app (`app.state.gateway`): settings, engine, sessions,
stored responses, the store, the keys, the agent workspaces, and whether it is draining. Its own
module so that both the app factory and the routes' dependencies can name its type without
importing each other."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.redis import Shared
from ..core.settings import Settings
from ..engine.interface import Engine
from ..files import Files
from ..sessions.service import SessionService
from ..sessions.stored_responses import ResponseStore
from ..store import Store
from ..tenancy.keys import KeyService
from ..workspaces.workspaces import Workspaces

if TYPE_CHECKING:
    from ..batches.runner import BatchRunner


@dataclass
class Gateway:
    settings: Settings
    engine: Engine
    sessions: SessionService
    responses: ResponseStore
    store: Store
    keys: KeyService
    workspaces: Workspaces  # agent sessions' working folders (app/workspaces/workspaces.py)
    files: Files  # uploaded files, POST /v1/files (app/files/)
    shared: Shared | None = None  # the Redis replicas share (GATEWAY_REDIS_URL), if any
    draining: bool = False  # SIGTERM came: no new turns (app/http/drain.py, app/http/middleware/drain.py)
    # The tasks of turn requests whose answer (or stream) is not finished yet, and those of them
    # the drain's timeout cut (app/http/middleware/drain.py).
    turns: set[asyncio.Task[Any]] = field(default_factory=set)
    cut: set[asyncio.Task[Any]] = field(default_factory=set)
    sockets: dict[str, int] = field(default_factory=dict)  # open WebSockets per tenant (app/http/sockets/)
    batches: BatchRunner = field(init=False)  # message batches, both APIs (app/batches/)
