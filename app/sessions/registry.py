"""Conversations the gateway keeps: ids, owner tenant, idle expiry, one turn at a time.

Every completion belongs to a session. A client names one with `session_id` and then sends only
its new messages; a stateless client that resends the whole history is matched to the session
whose served history its messages extend (same tenant, model and system prompt), by a hash chain
over the messages. Because the chain covers the assistant turns the gateway produced, a client
can only continue a conversation whose answers it was given.

A session is bound to the Claude credential it ran with (by its name, credential_names.py, never the value):
a stateless history only continues a session of the same credential, and a named session that
has served a turn refuses another credential (409) instead of moving its conversation over.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from ..core.errors import session_exists, session_not_found, too_many_sessions
from ..core.messages import Message, chain
from .images import has_image_data, without_image_data
from .session import Pointer, Session, continuation_key, continuation_points, stats_of


class SessionRegistry:
    """In-memory sessions. `on_end(uid)` lets the engine end the conversation's process; for a
    session ended during a turn, that happens when the turn lets go of it (`release`)."""

    def __init__(
        self,
        ttl: float,
        on_end: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        max_per_tenant: int = 1000,
    ) -> None:
        self.ttl = ttl
        self.max_per_tenant = max_per_tenant
        self._on_end = on_end
        self._clock = clock
        self._sessions: dict[tuple[str, str], Session] = {}  # (tenant, id): ids are per tenant
        # (tenant, model, system, credential, hash of the served history) -> the stateless sessions
        # at that point; several conversations can be word for word the same so far.
        self._continuations: dict[tuple[str, ...], list[Session]] = {}

    # --- lookup -------------------------------------------------------------------------------
    def get(self, tenant: str, session_id: str) -> Session:
        session = self._sessions.get((tenant, session_id))
        if session is None or self._expired(session):
            raise session_not_found(session_id)
        return session

    def continuation(
        self, tenant: str, model: str, system: str | None, messages: list[Message], credential: str | None = None
    ) -> Session | None:
        """A free stateless session whose served history `messages` extends.

        Only a history that ends with an assistant turn the gateway produced can match; the
        longest such prefix is tried first. Named sessions are never continued this way: their
        clients send only new messages.
        """
        for key in continuation_points(tenant, model, system, messages, credential):
            for session in self._continuations.get(key, []):
                if not self._expired(session) and not session.lock.locked():
                    return session
        return None

    def pointer(self, session: Session, conversation: list[Message]) -> Pointer | None:
        """Where `conversation`, the session's whole history as just recorded (image bytes
        included), lives; None if the session has ended."""
        if session.gone or len(conversation) != len(session.messages):
            return None
        images = {i: m for i, m in enumerate(conversation) if has_image_data(m)} if session.stateless else {}
        return Pointer(session.key, session.uid, len(session.messages), session.hashes[-1], images)

    def conversation(self, pointer: Pointer) -> list[Message] | None:
        """The messages `pointer` names, if their session still holds them (None once it ended)."""
        session = self._sessions.get(pointer.key)
        if session is None or session.uid != pointer.uid or self._expired(session):
            return None
        if len(session.hashes) < pointer.length or session.hashes[pointer.length - 1] != pointer.digest:
            return None
        return [pointer.images.get(i, m) for i, m in enumerate(session.messages[: pointer.length])]

    def extends(self, session: Session, messages: list[Message]) -> bool:
        """Whether `messages` begin with the session's whole served history."""
        served = len(session.hashes)
        return served == 0 or (len(messages) > served and chain(messages[:served])[-1] == session.hashes[-1])

    # --- changes ------------------------------------------------------------------------------
    def create(
        self,
        tenant: str,
        model: str,
        system: str | None,
        session_id: str | None = None,
        credential: str | None = None,
        limit: int | None = None,
        stateless: bool | None = None,
    ) -> Session:
        """A new session, or the live one of that name (a named session starts on first use).
        Without a name, the session is a stateless one (with one, too, if `stateless`: another
        replica's, replicated.py). Past the per-key limit (`limit`, the key's
        own max_sessions, else the gateway's), the key's least recently used idle stateless session
        makes room; if it has none, 429. `credential` is the new session's (see the module docstring)."""
        stateless = session_id is None if stateless is None else stateless
        session_id = session_id or f"sess_{secrets.token_hex(12)}"
        existing = self._sessions.get((tenant, session_id))
        if existing is not None and not self._expired(existing):
            return existing
        if existing is not None:
            self._end(existing)
        self._make_room(tenant, limit or self.max_per_tenant)
        now = self._clock()
        session = Session(
            session_id, tenant, model, system, created=now, last_used=now, stateless=stateless, credential=credential
        )
        self._sessions[session.key] = session
        return session

    def fork(self, source: Session, target_id: str | None = None, limit: int | None = None) -> Session:
        """A new named session with `source`'s conversation so far (its own copy from here on)."""
        target_id = target_id or f"sess_{secrets.token_hex(12)}"
        existing = self._sessions.get((source.tenant, target_id))
        if existing is not None and not self._expired(existing):
            raise session_exists(target_id)
        if existing is not None:
            self._end(existing)
        self._make_room(source.tenant, limit or self.max_per_tenant)
        now = self._clock()
        session = Session(target_id, source.tenant, source.model, source.system, created=now, last_used=now)
        session.messages, session.hashes, session.turns = list(source.messages), list(source.hashes), source.turns
        session.user, session.metadata, session.credential = source.user, dict(source.metadata), source.credential
        self._sessions[session.key] = session
        return session

    def record_turn(self, session: Session, new_messages: list[Message]) -> None:
        """A turn succeeded: its messages (the user's and the answer) join the session. A stateless
        session keeps no image bytes: its client resends them, and Claude's transcript has them."""
        if session.gone:
            return
        self._forget_continuation(session)
        session.hashes.extend(chain(new_messages, session.hashes[-1] if session.hashes else ""))
        session.messages.extend(without_image_data(new_messages) if session.stateless else new_messages)
        session.turns += 1
        session.last_used = self._clock()
        if session.stateless and session.messages and session.messages[-1].role == "assistant":
            session.continuation_key = continuation_key(
                session.tenant, session.model, session.system, session.credential, session.hashes[-1]
            )
            self._continuations.setdefault(session.continuation_key, []).append(session)

    def adopt(self, session: Session, truth: Session | None) -> None:
        """Bring `session` (locked by this turn) to `truth`, the session as the replicas share it;
        None: it was deleted elsewhere, so the name starts over. A process of this replica that
        held another conversation under the name is ended."""
        if truth is None:
            if not session.stored:
                return  # never shared: nothing elsewhere to follow
            now = self._clock()
            truth = Session(session.id, session.tenant, session.model, session.system, now, now)
            truth.stateless = session.stateless
        if truth.uid != session.uid and not session.gone:
            self._on_end(session.uid)
        self._forget_continuation(session)
        for name in ("uid", "model", "system", "created", "messages", "hashes", "turns", "user", "metadata"):
            setattr(session, name, getattr(truth, name))
        session.stateless, session.credential = truth.stateless, truth.credential
        session.stored, session.listed = truth.stored, truth.listed
        session.last_used = max(session.last_used, truth.last_used)

    def release(self, session: Session) -> None:
        """The turn on `session` is over (its engine stream closed): unlock it, and end it now if
        it was ended meanwhile, or if it is a stateless session whose first turn failed."""
        session.last_used = self._clock()
        session.lock.release()
        if session.stateless and session.turns == 0 and not session.gone:
            self._end(session)
        elif session.gone:
            self._on_end(session.uid)

    def delete(self, tenant: str, session_id: str) -> None:
        self._end(self.get(tenant, session_id))

    def end(self, session: Session) -> None:
        """End `session` here (deleted on another replica); its process ends when its turn lets go."""
        self._end(session)

    def local(self, tenant: str, session_id: str) -> Session | None:
        """This replica's copy of a session, live or not."""
        return self._sessions.get((tenant, session_id))

    def expire(self) -> int:
        """End every session idle for longer than the TTL (and not in a turn); returns how many."""
        ended = [s for s in self._sessions.values() if self._expired(s) and not s.lock.locked()]
        for session in ended:
            self._end(session)
        return len(ended)

    def end_tenant(self, tenant: str) -> int:
        """End every session of `tenant` (a revoked key), those in a turn too: their processes are
        stopped now rather than when the turn lets go. Returns how many ended."""
        mine = [s for s in self._sessions.values() if s.tenant == tenant]
        for session in mine:
            busy = session.lock.locked()
            self._end(session)
            if busy:
                self._on_end(session.uid)
        return len(mine)

    def end_all(self) -> None:
        """The gateway stops: every session is gone for lookups; the engine closes the processes
        itself (keeping agent workspaces for a restart)."""
        for session in list(self._sessions.values()):
            self._forget_continuation(session)
            session.gone = True
        self._sessions.clear()

    def stats(self, tenant: str | None) -> dict[str, Any]:
        return stats_of(self.list(tenant), self.ttl)

    def _make_room(self, tenant: str, limit: int) -> None:
        mine = [s for s in self._sessions.values() if s.tenant == tenant]
        if len(mine) < limit:
            return
        idle = sorted((s for s in mine if s.stateless and not s.lock.locked()), key=lambda s: s.last_used)
        if len(mine) - len(idle) >= limit:
            raise too_many_sessions(limit)
        for session in idle[: len(mine) - limit + 1]:
            self._end(session)

    def _end(self, session: Session) -> None:
        """Gone for every lookup at once; the engine's side ends now, or when its turn lets go."""
        self._forget_continuation(session)
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]
        was_gone, session.gone = session.gone, True
        if not was_gone and not session.lock.locked():
            self._on_end(session.uid)

    def _forget_continuation(self, session: Session) -> None:
        key, session.continuation_key = session.continuation_key, None
        if key is None:
            return
        others = [s for s in self._continuations.get(key, []) if s is not session]
        if others:
            self._continuations[key] = others
        else:
            self._continuations.pop(key, None)

    def _expired(self, session: Session) -> bool:
        return self._clock() - session.last_used > self.ttl

    # Last in the class: below it, `list` in an annotation would name this method.
    def list(self, tenant: str | None) -> list[Session]:
        """The tenant's live sessions (every tenant's for None: the admin's view)."""
        return [s for s in self._sessions.values() if tenant in (None, s.tenant) and not self._expired(s)]
