"""Running a turn inside a session: find or start the session, one turn at a time, and record the
turn only when it succeeded (a failed turn leaves the session as it was)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import AsyncIterator

from ..engine.types import Engine, Event, Finish, Turn
from .registry import Session, SessionRegistry, session_busy


@dataclass
class SessionTurn:
    """One request's turn. `session_id` is known once the first event (or error) has come."""

    service: "SessionService"
    turn: Turn
    requested_id: str | None
    session_id: str | None = None

    async def events(self) -> AsyncIterator[Event]:
        session, resent = await self.service.enter(self.turn, self.requested_id)
        self.session_id = session.id
        try:
            # A named session holds the history; a stateless client resent it itself.
            history = [] if resent else session.messages
            turn = replace(
                self.turn,
                messages=[*history, *self.turn.messages],
                system=self.turn.system if self.turn.system is not None else session.system,
                conversation_id=session.uid,
            )
            session.model, session.system = turn.model or "default", turn.system
            session.user = turn.user or session.user
            session.metadata.update(turn.metadata)
            served = len(session.messages)
            async for event in self.service.engine.stream(turn):
                if isinstance(event, Finish):
                    self.service.registry.record_turn(session, [*turn.messages[served:], event.message])
                yield event
        finally:
            self.service.registry.touch(session)
            session.lock.release()


class SessionService:
    def __init__(self, registry: SessionRegistry, engine: Engine, busy_wait: float) -> None:
        self.registry = registry
        self.engine = engine
        self.busy_wait = busy_wait

    def turn(self, turn: Turn, session_id: str | None) -> SessionTurn:
        return SessionTurn(self, turn, session_id)

    async def enter(self, turn: Turn, session_id: str | None) -> tuple[Session, bool]:
        """The session for this turn, locked, and whether the request resent its history.

        A named session is created on first use. Without a name, a history that extends a served
        conversation (same tenant, model and system prompt) continues it, unless that one is busy;
        anything else starts a new session from the whole history.
        """
        model = turn.model or "default"
        if session_id:
            session = self.registry.create(turn.tenant, model, turn.system, session_id)
            await self._lock(session)
            return session, False
        session = self.registry.continuation(turn.tenant, model, turn.system, turn.messages)
        session = session or self.registry.create(turn.tenant, model, turn.system)
        await self._lock(session)
        return session, True

    async def _lock(self, session: Session) -> None:
        try:
            await asyncio.wait_for(session.lock.acquire(), self.busy_wait)
        except asyncio.TimeoutError:
            raise session_busy(session.id) from None
