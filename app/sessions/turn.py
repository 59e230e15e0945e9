"""One request's turn inside a session (SessionService.turn): the key's limits, the session found
or started and held, its budget reserved, the engine's events passed on, the turn recorded when it
succeeded, and its usage in the ledger (settling the reservation) however it ended.

The turn is given what it runs with (`TurnParts`); it never reaches back into the service."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import GatewayError, credential_mismatch
from ..core.events import Event, Finish
from ..core.messages import extend_hash
from ..core.turn import CONTINUED, NAMED, ONE_OFF, Turn
from ..dialects.request_rules import check_tool_results
from ..engine.interface import Engine
from ..tenancy.auth import ANONYMOUS, Tenant
from ..tenancy.limits import Limits
from ..usage.ledger import Ledger, Meter
from ..workspaces.paths import added_folder
from ..workspaces.quota import within_quota
from .base import SessionKeeper
from .credential_names import CredentialNames
from .metering import metered, recorded
from .registry import SessionRegistry
from .session import Pointer, Session

if TYPE_CHECKING:
    from ..workspaces.workspaces import Workspaces

# How long a request keyed by the client's session waits for that session while another turn
# holds it (its last one, finishing) before it is matched as any stateless request.
KEYED_WAIT = 0.5


@dataclass(frozen=True)
class TurnParts:
    """What a turn in a session runs with: the sessions (this process's `registry`, and the
    `keeper` that holds them for a turn, base.py), the engine, the key's limits, the ledger, what
    binds a session to its caller's credential, how long a named session's turn waits for the one
    before it, and the agent sessions' folders (None where the gateway keeps none)."""

    registry: SessionRegistry
    keeper: SessionKeeper
    engine: Engine
    limits: Limits
    ledger: Ledger
    credential_names: CredentialNames
    busy_wait: float
    workspaces: Workspaces | None


@dataclass
class SessionTurn:
    """One request's turn. `session_id` is known once the first event (or error) has come, and
    `pointer` (where its conversation lives) once the turn finished."""

    parts: TurnParts
    turn: Turn
    requested_id: str | None
    tenant: Tenant = ANONYMOUS
    door: str = "chat"
    session_id: str | None = None
    pointer: Pointer | None = None
    key: str | None = None  # the client's name for its stateless conversation (Claude Code's session)

    async def events(self) -> AsyncGenerator[Event, None]:
        parts, tenant = self.parts, self.tenant
        policy = tenant.policy
        parts.limits.check_model(tenant, self.turn.model, lambda name: parts.engine.resolve_model(name))
        async with parts.limits.running(tenant):
            session, resent = await self._enter(policy.max_sessions if policy else None)
            self.session_id = session.id
            async with recorded(parts.ledger, self.turn, tenant, self.door, session.id, Meter()) as entry:
                meter = entry.meter
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
                        workspace=self._workspace(session) if self.turn.agent else None,
                    )
                    if turn.agent is not None and parts.workspaces is not None:  # stopped by Claude Code too
                        turn = replace(turn, agent=replace(turn.agent, workspace_quota=parts.workspaces.quota(tenant)))
                    if turn.workspace is not None and turn.agent is not None:
                        for folder in turn.agent.add_dirs:  # a link Claude planted since is no root
                            added_folder(turn.workspace, folder)
                    session.model, session.system = turn.model or "default", turn.system
                    session.user = turn.user or session.user
                    session.metadata.update(turn.metadata)
                    entry.holds = await parts.limits.reserve(tenant, turn)  # 429 if its estimate does not fit
                    stream = parts.engine.stream(turn)
                    if turn.workspace is not None and parts.workspaces is not None:
                        stream = within_quota(stream, parts.workspaces, tenant)  # what tools write
                    async with aclosing(metered(stream, meter)) as events:
                        async for event in events:
                            if isinstance(event, Finish):
                                conversation = [*turn.messages, event.message]
                                parts.registry.record_turn(session, conversation[served:])
                                self.pointer = parts.registry.pointer(session, conversation)
                                await parts.keeper.share(session)  # before the client can ask another replica
                            yield event
                finally:
                    await parts.keeper.let_go(session)

    async def _keyed(self, model: str, credential: str | None, here: int | None) -> Session | None:
        """The stateless session the client keys its conversation by (`key`, within the tenant),
        held: a new one, or one whose served history this resent one extends with the same
        credential. None otherwise (the history moved on elsewhere: an edit, a compaction, a
        side request under the same key; or busy past KEYED_WAIT), and the turn is matched as any
        stateless one."""
        registry, keeper, turn = self.parts.registry, self.parts.keeper, self.turn
        assert self.key is not None
        session = registry.create(turn.tenant, model, turn.system, self.key, credential, here, stateless=True)
        try:
            await keeper.hold(session, min(KEYED_WAIT, self.parts.busy_wait))
        except GatewayError as error:
            if error.code != "session_busy":
                raise
            return None  # another request of the client's (a subagent's, say) holds it: no 409 for that
        if not session.gone and not session.turns:
            session.credential = credential
            return session
        if not session.gone and session.credential == credential and registry.extends(session, turn.messages):
            return session
        await keeper.let_go(session)
        return None

    def _workspace(self, session: Session) -> Path | None:
        """An agent session's workspace, made if new (None where the gateway keeps none)."""
        workspaces = self.parts.workspaces
        return workspaces.open(self.tenant.id, session.id) if workspaces is not None else None

    async def _enter(self, limit: int | None) -> tuple[Session, bool]:
        """The session for this turn, held, and whether the request resent its history.

        A named session is created on first use. Without a name, a history that extends a served
        conversation (same tenant, model and system prompt) continues it, unless that one is busy;
        anything else starts a new session from the whole history. A session keeps the credential
        it served with (registry.py): a named one refuses another (409) once it has served a turn.
        """
        registry, keeper, turn, session_id = self.parts.registry, self.parts.keeper, self.turn, self.requested_id
        model = turn.model or "default"
        credential = await self.parts.credential_names.of(turn.credential)
        here = keeper.registry_limit(limit)
        keyed = await self._keyed(model, credential, here) if self.key and not session_id else None
        if keyed is not None:
            await keeper.admit(keyed, limit)
            return keyed, True
        while True:
            if session_id:
                session = registry.create(turn.tenant, model, turn.system, session_id, credential, here)
                await keeper.hold(session, self.parts.busy_wait)
                resent = False
                if session.credential != credential and not session.gone:
                    if session.turns:
                        await keeper.let_go(session)
                        raise credential_mismatch(session_id)
                    session.credential = credential  # it served nothing yet: nothing to move over
            else:
                found = await keeper.continuation(turn, model, credential)
                session = found or registry.create(turn.tenant, model, turn.system, None, credential, here)
                if found is None:
                    await keeper.hold(session, 0)  # a new one: free
                resent = True
                if found is not None and not registry.extends(found, turn.messages):
                    await keeper.let_go(found)  # moved on meanwhile: not this history's any more
                    continue
            if session.gone:
                await keeper.let_go(session)  # deleted while this request waited for it
                continue
            await keeper.admit(session, limit)  # new to every replica: room among the key's sessions
            return session, resent
