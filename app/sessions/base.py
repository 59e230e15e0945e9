"""Where sessions are kept between turns, and how one is held for a turn: the one interface the
session service (service.py) and a session's turn (turn.py) talk to.

Two implementations, chosen once when the gateway is wired (`open_keeper` in this package):
MemoryKeeper (memory.py), the sessions of this process alone, in its registry (registry.py); and
RedisKeeper (replicated.py), for replicas: Redis holds every session between turns (redis.py),
each replica's registry only copies of those it ran lately, and a session's turn lock is taken in
Redis too (redis_lock.py).
"""

from __future__ import annotations

from typing import Protocol

from ..core.turn import Turn
from ..tenancy.counters import Counters
from .session import Session


class SessionKeeper(Protocol):
    # Where a key's limits (rpm, max_concurrent) count: None, in this process; Redis with replicas.
    counters: Counters | None

    def registry_limit(self, limit: int | None) -> int | None:
        """The limit of a key's sessions the registry applies when it makes one (`limit`: the
        key's max_sessions, None: the gateway's); with replicas, Redis counts instead (`admit`)."""
        ...

    # --- a session held for a turn --------------------------------------------------------------
    async def hold(self, session: Session, wait: float) -> None:
        """Lock `session` for a turn, waiting up to `wait` seconds (409 session_busy), and bring
        this process's copy up to date."""
        ...

    async def let_go(self, session: Session) -> None:
        """The turn on `session` is over: unlock it."""
        ...

    async def continuation(self, turn: Turn, model: str, credential: str | None) -> Session | None:
        """A free stateless session this resent history continues, held for the turn (registry.py)."""
        ...

    async def admit(self, session: Session, limit: int | None) -> None:
        """`session`, held, is about to run its turn: if it is new, make room for it among the
        key's sessions (429 past `limit`), letting it go and ending it if there is none."""
        ...

    async def share(self, session: Session) -> None:
        """A turn just ended on `session`: let every process that serves it have it."""
        ...

    # --- sessions as a client sees them --------------------------------------------------------
    async def lookup(self, tenant: str, session_id: str) -> Session:
        """The live session of that id (404 if none)."""
        ...

    async def listed(self, tenant: str | None) -> list[Session]:
        """The tenant's live sessions (every tenant's for None), in no order."""
        ...

    async def delete(self, tenant: str, session_id: str) -> str:
        """Delete a session; its uid. 404 if there is none."""
        ...

    async def end_tenant(self, tenant: str) -> None:
        """End a tenant's sessions and their processes (a revoked key)."""
        ...

    # --- a fork -----------------------------------------------------------------------------------
    def live(self, source: Session) -> bool:
        """Whether `source`, just held to be forked, still lives (not deleted meanwhile)."""
        ...

    async def claim_fork(self, target: Session, limit: int | None) -> None:
        """Make the fork `target` known as a session of its own (409 if that id is taken)."""
        ...

    async def drop_fork(self, target: Session) -> None:
        """Undo `claim_fork`: the fork failed, its id is free again."""
        ...

    # --- news ----------------------------------------------------------------------------------
    async def listen(self) -> None:
        """Follow what other processes end (a task the app cancels at shutdown); returns at once
        where there are none."""
        ...
