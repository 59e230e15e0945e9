"""One request's turn inside a session (SessionService.turn): the key's limits, the session held,
its budget reserved, the engine's events passed on, the turn recorded when it succeeded, and its
usage in the ledger (settling the reservation) however it ended."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..core.errors import GatewayError
from ..core.events import Event, Finish
from ..core.messages import extend_hash
from ..core.turn import CONTINUED, NAMED, ONE_OFF, Turn
from ..dialects.request_rules import check_tool_results
from ..tenancy.auth import ANONYMOUS, Tenant, key_name
from ..usage.ledger import Ledger, Meter
from ..workspaces.paths import added_folder
from ..workspaces.quota import within_quota
from .session import Pointer

if TYPE_CHECKING:
    from .service import SessionService


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
            async with recorded(service.ledger, self.turn, tenant, self.door, session.id, Meter()) as entry:
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
                        workspace=service.workspace(tenant.id, session.id) if self.turn.agent else None,
                    )
                    if turn.agent is not None and service.workspaces is not None:  # stopped by Claude Code too
                        turn = replace(
                            turn, agent=replace(turn.agent, workspace_quota=service.workspaces.quota(tenant))
                        )
                    if turn.workspace is not None and turn.agent is not None:
                        for folder in turn.agent.add_dirs:  # a link Claude planted since is no root
                            added_folder(turn.workspace, folder)
                    session.model, session.system = turn.model or "default", turn.system
                    session.user = turn.user or session.user
                    session.metadata.update(turn.metadata)
                    entry.holds = await service.limits.reserve(tenant, turn)  # 429 if its estimate does not fit
                    stream = service.engine.stream(turn)
                    if turn.workspace is not None and service.workspaces is not None:
                        stream = within_quota(stream, service.workspaces, tenant)  # what tools write
                    async with aclosing(stream) as events:
                        async for event in events:
                            meter.see(event)
                            if isinstance(event, Finish):
                                conversation = [*turn.messages, event.message]
                                registry.record_turn(session, conversation[served:])
                                self.pointer = registry.pointer(session, conversation)
                                await service.share(session)  # before the client can ask another replica
                            yield event
                finally:
                    await service.let_go(session)


def failure_code(exc: Exception) -> str:
    """What the ledger says a turn failed of: the gateway error's code, else the exception's type."""
    return (exc.code if isinstance(exc, GatewayError) else None) or type(exc).__name__


@dataclass
class Recorded:
    """A turn being metered for the ledger: `holds`, its budget reservations, once made; till
    then the turn has not reached Claude and no entry is written."""

    meter: Meter
    holds: list[str] | None = field(default=None)


@asynccontextmanager
async def recorded(
    ledger: Ledger, turn: Turn, tenant: Tenant, door: str, session_id: str | None, meter: Meter
) -> AsyncIterator[Recorded]:
    """Write the turn's ledger entry on the way out, once it reserved (`holds` set): "ok", "error"
    (with its failure_code) or "cancelled" (cut short), settling its reservations."""
    entry, status, error = Recorded(meter), "cancelled", None
    try:
        yield entry
        status = "ok"
    except Exception as exc:
        status, error = "error", failure_code(exc)
        raise
    finally:
        if entry.holds is not None:
            name = key_name(tenant)
            await ledger.record(turn, tenant.key_id, door, session_id, meter, status, error, name, entry.holds)
