"""The sessions of one gateway process alone, in its registry (registry.py): the SessionKeeper
(base.py) of a gateway without Redis. A turn's lock is the session's own asyncio lock."""

from __future__ import annotations

from ..core.errors import session_busy, session_not_found
from ..core.turn import Turn
from ..tenancy.counters import Counters
from .locks import acquire_within
from .registry import SessionRegistry
from .session import Session


class MemoryKeeper:
    counters: Counters | None = None

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry

    def registry_limit(self, limit: int | None) -> int | None:
        return limit

    async def hold(self, session: Session, wait: float) -> None:
        if not await acquire_within(session.lock, wait):
            raise session_busy(session.id)

    async def let_go(self, session: Session) -> None:
        self.registry.release(session)

    async def continuation(self, turn: Turn, model: str, credential: str | None) -> Session | None:
        found = self.registry.continuation(turn.tenant, model, turn.system, turn.messages, credential)
        if found is not None:
            await self.hold(found, 0)  # free (continuations are free ones): no wait
        return found

    async def admit(self, session: Session, limit: int | None) -> None:
        """The registry made room when it made the session."""

    async def share(self, session: Session) -> None:
        """This process is the only one."""

    async def lookup(self, tenant: str, session_id: str) -> Session:
        return self.registry.get(tenant, session_id)

    async def listed(self, tenant: str | None) -> list[Session]:
        return self.registry.list(tenant)

    async def delete(self, tenant: str, session_id: str) -> str:
        local = self.registry.local(tenant, session_id)
        if local is None or local.gone:
            raise session_not_found(session_id)
        uid = self.registry.get(tenant, session_id).uid  # 404 once expired
        self.registry.end(local)
        return uid

    async def end_tenant(self, tenant: str) -> None:
        self.registry.end_tenant(tenant)

    def live(self, source: Session) -> bool:
        return not source.gone

    async def claim_fork(self, target: Session, limit: int | None) -> None:
        """The registry made it (SessionRegistry.fork)."""

    async def drop_fork(self, target: Session) -> None:
        """The registry ended it."""

    async def listen(self) -> None:
        """No other process ends this one's sessions."""
