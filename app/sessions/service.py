"""Running a turn inside a session: find or start the session, one turn at a time, and record the
turn only when it succeeded (a failed turn leaves the session as it was).

Every door's turns come through here, so this is where a key's policy applies to a turn (its
model list, max_concurrent, max_sessions, max_processes: app/tenancy/limits.py) and where the turn's
usage goes into the ledger once it ends, however it ends (app/usage/ledger.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from ..core.errors import credential_mismatch, session_busy, session_exists, session_not_found, store_unavailable
from ..core.events import Event
from ..core.turn import Turn
from ..dialects.request_rules import check_tool_results
from ..engine.interface import Engine
from ..store import Store
from ..store.null import NullStore
from ..tenancy.auth import ANONYMOUS, Tenant
from ..tenancy.limits import Limits
from ..tenancy.redis_counters import RedisCounters
from ..usage.ledger import Ledger, Meter
from .credential_names import CredentialNames
from .locks import acquire_within
from .redis import SharedSessions
from .registry import SessionRegistry
from .session import Session, continuation_points
from .turn import SessionTurn, recorded

# How long a resent history waits for the stateless session it continues while another replica
# finishes writing that session's last turn, before it starts a session of its own.
CONTINUATION_WAIT = 0.5

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
        shared: SharedSessions | None = None,
        credential_names: CredentialNames | None = None,
        turn_timeout: float = 600.0,
    ) -> None:
        self.registry = registry
        self.shared = shared  # the sessions every replica sees (Redis); None: this process's alone
        self.workspaces = workspaces  # agent sessions' folders
        self.engine = engine
        self.busy_wait = busy_wait
        store = store or NullStore()
        # What binds a session to its caller's credential, the same on every replica (409 otherwise).
        self.credential_names = credential_names or CredentialNames("", store)
        # A key's max_concurrent waits like a busy gateway; with replicas, its limits count in Redis.
        self.limits = Limits(store, turn_wait, RedisCounters(shared.shared) if shared else None, turn_timeout)
        self.ledger = Ledger(store, getattr(engine, "known_models", None))

    def workspace(self, tenant_id: str, session_id: str) -> Path | None:
        """An agent session's workspace, made if new (None where the gateway keeps none)."""
        return self.workspaces.open(tenant_id, session_id) if self.workspaces is not None else None

    async def fork(self, tenant: Tenant, session_id: str, target_id: str | None) -> Session:
        """A new session with the conversation of `session_id` so far, its workspace copied, and
        Claude Code's session branched off (engine/turns/fork.py); 409 while the source is in a turn."""
        found = await self.lookup(tenant.id, session_id)
        local_limit = None if self.shared is None else sys.maxsize  # with replicas, Redis counts (make_room)
        source = self.registry.create(
            tenant.id, found.model, found.system, session_id, found.credential, local_limit, stateless=found.stateless
        )
        await self._hold(source, self.busy_wait)
        try:
            if source.gone or (self.shared is not None and not source.turns):
                raise session_not_found(session_id)  # deleted meanwhile
            limit = tenant.policy.max_sessions if tenant.policy else None
            target = self.registry.fork(source, target_id, limit if self.shared is None else sys.maxsize)
            saved = False
            try:
                if self.shared is not None:
                    if await self.shared.load(tenant.id, target.id) is not None:
                        raise session_exists(target.id)  # another replica's
                    await self.shared.make_room(target, limit or self.registry.max_per_tenant)
                    saved = await self.shared.save(target)
                    if not saved:
                        raise session_exists(target.id)  # made meanwhile
                await self._fork_state(tenant, source, target)
            except BaseException:  # nothing of a failed fork stays: its id is free again
                self.registry.end(target)
                if saved and self.shared is not None:
                    await self.shared.delete(tenant.id, target.id)
                raise
            return target
        finally:
            await self.let_go(source)

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
        self.registry.end_tenant(tenant)
        if self.shared is not None:
            await self.shared.delete_tenant(tenant)

    # --- sessions as every replica sees them ----------------------------------------------------
    async def lookup(self, tenant: str, session_id: str) -> Session:
        """The live session of that id (404 if none): with replicas, as Redis has it, unless this
        replica is running its very first turn."""
        if self.shared is None:
            return self.registry.get(tenant, session_id)
        found = await self.shared.load(tenant, session_id)
        local = self.registry.local(tenant, session_id)
        if found is not None:
            return found
        if local is not None and local.stored and not local.lock.locked():
            self.registry.end(local)  # deleted or expired on another replica
        return self.registry.get(tenant, session_id)

    async def listed(self, tenant: str | None) -> list[Session]:
        """The tenant's live sessions (every tenant's for None), most recently used first."""
        sessions = await self.shared.listed(tenant) if self.shared is not None else self.registry.list(tenant)
        return sorted(sessions, key=lambda s: s.last_used, reverse=True)

    async def delete(self, tenant: str, session_id: str) -> str:
        """Delete a session (on every replica); its uid. 404 if there is none."""
        uid = await self.shared.delete(tenant, session_id) if self.shared is not None else None
        local = self.registry.local(tenant, session_id)
        if local is not None and not local.gone:
            if uid is None and (self.shared is None or not local.stored):  # never shared: this one
                uid = self.registry.get(tenant, session_id).uid
            self.registry.end(local)
        if uid is None:
            raise session_not_found(session_id)
        return uid

    def ended_elsewhere(self, kind: str, tenant: str, session_id: str, uid: str) -> None:
        """A replica deleted a session, or revoked a tenant: end this replica's copies (and so
        their processes) now; one in a turn here ends when its turn lets go. A session made again
        under that name meanwhile (another uid) stays."""
        if kind == "tenant":
            self.registry.end_tenant(tenant)
            return
        local = self.registry.local(tenant, session_id)
        if local is not None and local.uid == uid and not local.lock.locked():
            self.registry.end(local)

    async def share(self, session: Session) -> None:
        """A turn just ended on `session`: write it to Redis and let other replicas have the
        session; if it was deleted meanwhile on another replica, it ends here too."""
        if self.shared is None:
            return
        if session.gone:  # deleted during the turn (on this replica): nothing to bring back
            await self.shared.locks.unlock(session)
            return
        try:
            saved = await self.shared.save(session)
        except RedisError as exc:  # mid-stream: the door's failure event, not a broken stream
            raise store_unavailable() from exc  # the turn failed; the next one pulls what Redis has
        if not saved:
            self.registry.end(session)
        await self.shared.locks.unlock(session)

    async def let_go(self, session: Session) -> None:
        """The turn on `session` is over: unlock it, here and in Redis."""
        self.registry.release(session)
        if self.shared is not None:
            await self.shared.locks.unlock(session)

    def turn(self, turn: Turn, session_id: str | None, tenant: Tenant = ANONYMOUS, door: str = "chat") -> SessionTurn:
        return SessionTurn(self, turn, session_id, tenant, door)

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
                    async with aclosing(self.engine.stream(turn)) as events:
                        async for event in events:
                            meter.see(event)
                            yield event
        finally:
            if hold and not ran:
                await asyncio.shield(self.limits.store.release(tenant.id, [hold]))

    async def enter(self, turn: Turn, session_id: str | None, limit: int | None = None) -> tuple[Session, bool]:
        """The session for this turn, locked, and whether the request resent its history.

        A named session is created on first use. Without a name, a history that extends a served
        conversation (same tenant, model and system prompt) continues it, unless that one is busy;
        anything else starts a new session from the whole history. A session keeps the credential
        it served with (registry.py): a named one refuses another (409) once it has served a turn.
        """
        model = turn.model or "default"
        credential = await self.credential_names.of(turn.credential)
        # With replicas, Redis counts a key's sessions (make_room below); this replica's registry
        # only holds copies of those it ran lately.
        shared_limit, limit = limit or self.registry.max_per_tenant, limit if self.shared is None else sys.maxsize
        while True:
            if session_id:
                session = self.registry.create(turn.tenant, model, turn.system, session_id, credential, limit)
                await self._hold(session, self.busy_wait)
                resent = False
                if session.credential != credential and not session.gone:
                    if session.turns:
                        await self.let_go(session)
                        raise credential_mismatch(session_id)
                    session.credential = credential  # it served nothing yet: nothing to move over
            else:
                found = await self._continuation(turn, model, credential)
                session = found or self.registry.create(turn.tenant, model, turn.system, None, credential, limit)
                if found is None:
                    await self._hold(session, 0)  # a new one: free
                resent = True
                if found is not None and not self.registry.extends(found, turn.messages):
                    await self.let_go(found)  # moved on meanwhile: not this history's any more
                    continue
            if session.gone:
                await self.let_go(session)  # deleted while this request waited for it
                continue
            if self.shared is not None and not session.stored:  # new to every replica
                try:
                    await self.shared.make_room(session, shared_limit)
                except BaseException:
                    await self.let_go(session)
                    self.registry.end(session)
                    raise
            return session, resent

    async def _continuation(self, turn: Turn, model: str, credential: str | None) -> Session | None:
        """A free stateless session this resent history continues, held for the turn (registry.py;
        with replicas, any replica's, from Redis)."""
        if self.shared is None:
            found = self.registry.continuation(turn.tenant, model, turn.system, turn.messages, credential)
            if found is not None:
                await self._hold(found, 0)  # free (continuations are free ones): no wait
            return found
        points = continuation_points(turn.tenant, model, turn.system, turn.messages, credential)
        for point, session_id in await self.shared.continuations(points):
            session = self.registry.create(
                turn.tenant, model, turn.system, session_id, credential, sys.maxsize, stateless=True
            )
            if session.lock.locked() or not await self.shared.locks.lock(session, CONTINUATION_WAIT):
                continue  # busy: another request of that conversation runs (or a replica just let go)
            if not await acquire_within(session.lock, 0):
                await self.shared.locks.unlock(session)  # taken here meanwhile
                continue
            try:
                truth = await self.shared.pull(session)
                self.registry.adopt(session, truth)
                if truth is None:  # expired: listed no more
                    await self.shared.unlist(point, session_id)
            except BaseException:
                await self.let_go(session)
                raise
            if session.turns and not session.gone:
                return session
            await self.let_go(session)
        return None

    async def _hold(self, session: Session, wait: float) -> None:
        """Lock `session` for a turn (waiting up to `wait` seconds), here and, with replicas, in
        Redis, where this replica's copy is then brought up to date."""
        if not await acquire_within(session.lock, wait):
            raise session_busy(session.id)
        if self.shared is None:
            return
        try:
            if not await self.shared.locks.lock(session, wait):
                raise session_busy(session.id)
            self.registry.adopt(session, await self.shared.pull(session))
        except BaseException:
            await self.let_go(session)
            raise
