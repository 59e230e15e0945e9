"""Sessions as the routes see them, and the way into a turn: a session's turn (turn.py), a turn
outside any session (`one_off`), a fork, a lookup, a listing, a delete.

Every door's turns come through here, so this is where a key's policy applies to a turn (its
model list, max_concurrent, max_sessions, max_processes: app/tenancy/limits.py) and where the turn's
usage goes into the ledger once it ends, however it ends (app/usage/ledger.py, metering.py).

Where the sessions live, this process alone or every replica through Redis, is the keeper's
business (base.py): the service talks to the one interface, whichever the gateway was wired with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.errors import session_not_found
from ..core.events import Event
from ..core.turn import Turn
from ..dialects.request_rules import check_tool_results
from ..engine.interface import Engine
from ..store import Store
from ..store.null import NullStore
from ..tenancy.auth import ANONYMOUS, Tenant
from ..tenancy.limits import Limits
from ..usage.ledger import Ledger, Meter
from .base import SessionKeeper
from .credential_names import CredentialNames
from .memory import MemoryKeeper
from .metering import metered, recorded
from .registry import SessionRegistry
from .session import Session
from .turn import SessionTurn, TurnParts

if TYPE_CHECKING:
    from ..workspaces.workspaces import Workspaces


class SessionService:
    def __init__(
        self,
        registry: SessionRegistry,
        engine: Engine,
        busy_wait: float,
        store: Store | None = None,
        turn_wait: float = 10.0,
        workspaces: Workspaces | None = None,
        keeper: SessionKeeper | None = None,
        credential_names: CredentialNames | None = None,
        turn_timeout: float = 600.0,
    ) -> None:
        self.registry = registry
        self.keeper = keeper or MemoryKeeper(registry)  # where sessions live between turns (base.py)
        self.workspaces = workspaces  # agent sessions' folders
        self.engine = engine
        self.busy_wait = busy_wait
        store = store or NullStore()
        # What binds a session to its caller's credential, the same on every replica (409 otherwise).
        self.credential_names = credential_names or CredentialNames("", store)
        # A key's max_concurrent waits like a busy gateway; with replicas, its limits count in Redis.
        self.limits = Limits(store, turn_wait, self.keeper.counters, turn_timeout)
        self.ledger = Ledger(store, getattr(engine, "known_models", None))

    async def fork(self, tenant: Tenant, session_id: str, target_id: str | None) -> Session:
        """A new session with the conversation of `session_id` so far, its workspace copied, and
        Claude Code's session branched off (engine/turns/fork.py); 409 while the source is in a turn."""
        found = await self.lookup(tenant.id, session_id)
        keeper = self.keeper
        source = self.registry.create(
            tenant.id,
            found.model,
            found.system,
            session_id,
            found.credential,
            keeper.registry_limit(None),
            stateless=found.stateless,
        )
        await keeper.hold(source, self.busy_wait)
        try:
            if not keeper.live(source):
                raise session_not_found(session_id)  # deleted meanwhile
            limit = tenant.policy.max_sessions if tenant.policy else None
            target = self.registry.fork(source, target_id, keeper.registry_limit(limit))
            claimed = False
            try:
                await keeper.claim_fork(target, limit)
                claimed = True
                await self._fork_state(tenant, source, target)
            except BaseException:  # nothing of a failed fork stays: its id is free again
                self.registry.end(target)
                if claimed:
                    await keeper.drop_fork(target)
                raise
            return target
        finally:
            await keeper.let_go(source)

    async def _fork_state(self, tenant: Tenant, source: Session, target: Session) -> None:
        """The fork's workspace (a copy of the source's, within the key's quota) and Claude Code's
        conversation; either undone if the other fails."""
        workspaces, workspace, source_workspace = self.workspaces, None, None
        if workspaces is not None and workspaces.exists(tenant.id, source.id):
            source_workspace = workspaces.path(tenant.id, source.id)
            workspace = await workspaces.fork(tenant, source.id, target.id)  # 413 past the quota
        try:
            self.engine.fork_conversation(source.uid, target.uid, workspace, source_workspace)  # on the loop
        except BaseException:
            self.engine.end_conversation(target.uid)
            if workspaces is not None and workspace is not None:
                await asyncio.to_thread(workspaces.remove, tenant.id, target.id)
            raise

    async def end_tenant(self, tenant: str) -> None:
        """End a tenant's sessions and their processes (a revoked key)."""
        await self.keeper.end_tenant(tenant)

    async def lookup(self, tenant: str, session_id: str) -> Session:
        """The live session of that id (404 if none), as every replica sees it."""
        return await self.keeper.lookup(tenant, session_id)

    async def listed(self, tenant: str | None) -> list[Session]:
        """The tenant's live sessions (every tenant's for None), most recently used first."""
        return sorted(await self.keeper.listed(tenant), key=lambda s: s.last_used, reverse=True)

    async def delete(self, tenant: str, session_id: str) -> str:
        """Delete a session (on every replica); its uid. 404 if there is none."""
        return await self.keeper.delete(tenant, session_id)

    def turn(
        self, turn: Turn, session_id: str | None, tenant: Tenant = ANONYMOUS, door: str = "chat", key: str | None = None
    ) -> SessionTurn:
        """`session_id`: the named session the turn is in (created on first use); else `key`, the
        client's own name for the stateless conversation it resends (SessionTurn._keyed); else the
        session its history continues, or a new one."""
        parts = TurnParts(
            self.registry,
            self.keeper,
            self.engine,
            self.limits,
            self.ledger,
            self.credential_names,
            self.busy_wait,
            self.workspaces,
        )
        return SessionTurn(parts, turn, session_id, tenant, door, key=key)

    async def one_off(
        self, turn: Turn, tenant: Tenant = ANONYMOUS, door: str = "chat", hold: str | None = None
    ) -> AsyncGenerator[Event, None]:
        """A turn outside any session (each of chat's n > 1 answers, a batch's request), with the
        same checks and limits. `hold`: its budget reservation, made by the caller for all of a
        request's answers at once (Choices), and given back if the turn never runs; without one,
        it reserves its own."""
        ran = False
        try:
            check_tool_results(turn.messages)
            self.limits.check_model(tenant, turn.model, lambda name: self.engine.resolve_model(name))
            policy = tenant.policy
            meter = Meter()
            turn = replace(turn, process_limit=policy.max_processes if policy else None, on_partial_usage=meter.partial)
            async with self.limits.running(tenant):
                holds = [hold] if hold else await self.limits.reserve(tenant, turn)
                ran = True
                async with recorded(self.ledger, turn, tenant, door, None, meter) as entry:
                    entry.holds = holds
                    async with aclosing(metered(self.engine.stream(turn), meter)) as events:
                        async for event in events:
                            yield event
        finally:
            if hold and not ran:
                await asyncio.shield(self.limits.store.release(tenant.id, [hold]))
