"""The gateway's state, one object per app (`app.state.gateway`): settings, engine, sessions,
stored responses, the store, the keys, the agent workspaces, the uploaded files, the batch runner
and the traffic in flight. Built whole by app/http/wiring.py. Its own module so that both the
wiring and the routes' dependencies can name its type without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..batches.runner import BatchRunner
from ..core.redis import RedisLink
from ..core.settings import Settings
from ..core.traffic import Traffic
from ..engine.interface import Engine
from ..files import Files
from ..sessions.service import SessionService
from ..sessions.stored_responses import ResponseStore
from ..store import Store
from ..tenancy.keys import KeyService
from ..workspaces.workspaces import Workspaces


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
    batches: BatchRunner  # message batches, both APIs (app/batches/)
    # The turn requests in flight, and whether the gateway drains (app/http/server.py,
    # app/http/middleware/drain.py); the batch runner leaves them their room.
    traffic: Traffic
    redis: RedisLink | None = None  # the Redis replicas share (GATEWAY_REDIS_URL), if any
    sockets: dict[str, int] = field(default_factory=dict)  # open WebSockets per tenant (app/http/sockets/)
