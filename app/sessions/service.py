"""Running a turn inside a session: find or start the session, one turn at a time, and record the
turn only when it succeeded (a failed turn leaves the session as it was).

Every door's turns come through here, so this is where a key's policy applies to a turn (its
model list, max_concurrent, max_sessions, max_processes: app/policy/limits.py) and where the turn's
usage goes into the ledger once it ends, however it ends (app/policy/usage.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..auth import ANONYMOUS, Tenant, key_name
from ..engine.types import CONTINUED, NAMED, ONE_OFF, Engine, Event, Finish, Turn, extend_hash
from ..errors import GatewayError
from ..policy.limits import Limits
from ..policy.usage import Ledger, Meter
from ..shared.counters import RedisCounters
from ..shared.redis import Shared
from ..store import Store
from ..store.null import NullStore
from ..translate.common import check_tool_results
from .errors import credential_mismatch, session_busy
from .registry import Pointer, Session, SessionRegistry

if TYPE_CHECKING:
    from ..agent.workspace import Workspaces


@dataclass
class SessionTurn:
    """One request's turn. `session_id` is known once the first event (or error) has come, and
    `pointer` (where its conversation lives) once the turn finished."""

    service: SessionService
    turn: Turn
    requested_id: str | None
    tenant: Tenant = ANONYMOUS
    door: str = "chat"
    session_id: str | None = None
    pointer: Pointer | None = None

    async def events(self) -> AsyncGenerator[Event, None]:
        service, registry, tenant = self.service, self.service.registry, self.tenant
        policy = tenant.policy
        service.limits.check_model(tenant, self.turn.model, lambda name: service.engine.resolve_model(name))
        async with service.limits.running(tenant):
            limit = policy.max_sessions if policy else None
            session, resent = await service.enter(self.turn, self.requested_id, limit)
            self.session_id = session.id
            meter, status, reached, error = Meter(), "cancelled", False, None
            try:
                # A named session holds the history; a stateless client resent it itself.
                history = [] if resent else session.messages
                messages = [*history, *self.turn.messages]
                check_tool_results(messages)  # the whole conversation: a call may be in the history
                served = len(session.messages)
                turn = replace(
                    self.turn,
                    messages=messages,
                    system=self.turn.system if self.turn.system is not None else session.system,
                    conversation_id=session.uid,
                    worth=CONTINUED if resent and served else ONE_OFF if resent else NAMED,
                    history_hash=extend_hash(session.hashes[-1] if served else "", messages[served:-1]),
                    process_limit=policy.max_processes if policy else None,
                    on_partial_usage=meter.partial,
                    workspace=service.workspace(tenant.id, session.id) if self.turn.agent else None,
                )
                session.model, session.system = turn.model or "default", turn.system
                session.user = turn.user or session.user
                session.metadata.update(turn.metadata)
                reached = True
                async with aclosing(service.engine.stream(turn)) as events:
                    async for event in events:
                        meter.see(event)
                        if isinstance(event, Finish):
                            conversation = [*turn.messages, event.message]
                            registry.record_turn(session, conversation[served:])
                            self.pointer = registry.pointer(session, conversation)
                        yield event
                status = "ok"
            except Exception as exc:
                status, error = "error", failure_code(exc)
                raise
            finally:
                registry.release(session)
                if reached:
                    await service.ledger.record(
                        self.turn, tenant.key_id, self.door, session.id, meter, status, error, key_name(tenant)
                    )


def failure_code(exc: Exception) -> str:
    """What the ledger says a turn failed of: the gateway error's code, else the exception's type."""
    return (exc.code if isinstance(exc, GatewayError) else None) or type(exc).__name__


class SessionService:
    def __init__(
        self,
        registry: SessionRegistry,
        engine: Engine,
        busy_wait: float,
        store: Store | None = None,
        turn_wait: float = 10.0,
        workspaces: Workspaces | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.registry = registry
        self.workspaces = workspaces  # agent sessions' folders
        self.engine = engine
        self.busy_wait = busy_wait
        store = store or NullStore()
        # A key's max_concurrent waits like a busy gateway; with replicas, its limits count in Redis.
        self.limits = Limits(store, turn_wait, RedisCounters(shared) if shared else None)
        self.ledger = Ledger(store)

    def workspace(self, tenant_id: str, session_id: str) -> Path | None:
        """An agent session's workspace, made if new (None where the gateway keeps none)."""
        return self.workspaces.open(tenant_id, session_id) if self.workspaces is not None else None

    async def fork(self, tenant: Tenant, session_id: str, target_id: str | None) -> Session:
        """A new session with the conversation of `session_id` so far, its workspace copied, and
        Claude Code's session branched off (engine/fork.py); 409 while the source is in a turn."""
        source = self.registry.get(tenant.id, session_id)
        await self._lock(source)
        try:
            policy = tenant.policy
            target = self.registry.fork(source, target_id, policy.max_sessions if policy else None)
            workspace = source_workspace = None
            if self.workspaces is not None and self.workspaces.exists(tenant.id, source.id):
                source_workspace = self.workspaces.path(tenant.id, source.id)
                workspace = self.workspaces.open(tenant.id, target.id)
                await asyncio.to_thread(shutil.copytree, source_workspace, workspace, symlinks=True, dirs_exist_ok=True)
            self.engine.fork_conversation(source.uid, target.uid, workspace, source_workspace)  # its state: on the loop
            return target
        finally:
            self.registry.release(source)

    def end_tenant(self, tenant: str) -> None:
        """End a tenant's sessions and their processes (a revoked key)."""
        self.registry.end_tenant(tenant)

    def turn(self, turn: Turn, session_id: str | None, tenant: Tenant = ANONYMOUS, door: str = "chat") -> SessionTurn:
        return SessionTurn(self, turn, session_id, tenant, door)

    async def one_off(self, turn: Turn, tenant: Tenant = ANONYMOUS, door: str = "chat") -> AsyncGenerator[Event, None]:
        """A turn outside any session (each of chat's n > 1 answers), with the same checks and limits."""
        check_tool_results(turn.messages)
        self.limits.check_model(tenant, turn.model, lambda name: self.engine.resolve_model(name))
        policy = tenant.policy
        meter, status, error = Meter(), "cancelled", None
        turn = replace(turn, process_limit=policy.max_processes if policy else None, on_partial_usage=meter.partial)
        async with self.limits.running(tenant):
            try:
                async with aclosing(self.engine.stream(turn)) as events:
                    async for event in events:
                        meter.see(event)
                        yield event
                status = "ok"
            except Exception as exc:
                status, error = "error", failure_code(exc)
                raise
            finally:
                await self.ledger.record(turn, tenant.key_id, door, None, meter, status, error, key_name(tenant))

    async def enter(self, turn: Turn, session_id: str | None, limit: int | None = None) -> tuple[Session, bool]:
        """The session for this turn, locked, and whether the request resent its history.

        A named session is created on first use. Without a name, a history that extends a served
        conversation (same tenant, model and system prompt) continues it, unless that one is busy;
        anything else starts a new session from the whole history. A session keeps the credential
        it served with (registry.py): a named one refuses another (409) once it has served a turn.
        """
        model = turn.model or "default"
        credential = turn.credential.id if turn.credential else None
        while True:
            if session_id:
                session = self.registry.create(turn.tenant, model, turn.system, session_id, credential, limit)
                await self._lock(session)
                resent = False
                if session.credential != credential and not session.gone:
                    if session.turns:
                        self.registry.release(session)
                        raise credential_mismatch(session_id)
                    session.credential = credential  # it served nothing yet: nothing to move over
            else:
                found = self.registry.continuation(turn.tenant, model, turn.system, turn.messages, credential)
                session = found or self.registry.create(turn.tenant, model, turn.system, None, credential, limit)
                await self._lock(session)  # free (continuations are free ones, new ones too): no wait
                resent = True
                if found is not None and not self.registry.extends(found, turn.messages):
                    self.registry.release(found)  # moved on meanwhile: not this history's any more
                    continue
            if not session.gone:
                return session, resent
            self.registry.release(session)  # deleted while this request waited for it

    async def _lock(self, session: Session) -> None:
        if not await acquire_within(session.lock, self.busy_wait):
            raise session_busy(session.id)


async def acquire_within(lock: asyncio.Lock, timeout: float) -> bool:
    """Take `lock`, waiting up to `timeout` seconds. A free lock is taken at once, without giving
    other tasks a turn first (Python 3.10/3.11's `wait_for(lock.acquire(), 0)` never takes it,
    and with a timeout it yields before taking it). The lock is never left taken by a wait that
    timed out or was cancelled."""
    if not lock.locked():
        await lock.acquire()  # returns at once: no other task runs in between
        return True
    if timeout <= 0:
        return False
    acquire = asyncio.ensure_future(lock.acquire())
    try:
        await asyncio.wait({acquire}, timeout=timeout)
    finally:
        if not acquire.done():
            acquire.cancel()
            acquire.add_done_callback(lambda task: _release_if_taken(lock, task))
    return acquire.done() and not acquire.cancelled() and acquire.exception() is None


def _release_if_taken(lock: asyncio.Lock, acquire: asyncio.Future[Any]) -> None:
    """An acquire cancelled too late still took the lock: give it back."""
    if not acquire.cancelled() and acquire.exception() is None:
        lock.release()
