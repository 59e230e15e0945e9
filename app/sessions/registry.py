"""Conversations the gateway keeps: ids, owner tenant, idle expiry, one turn at a time.

Every completion belongs to a session. A client names one with `session_id` and then sends only
its new messages; a stateless client that resends the whole history is matched to the session
whose served history its messages extend (same tenant, model and system prompt), by a hash chain
over the messages. Because the chain covers the assistant turns the gateway produced, a client
can only continue a conversation whose answers it was given.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engine.types import Message
from ..errors import GatewayError


def session_not_found(session_id: str) -> GatewayError:
    return GatewayError(404, f"No session '{session_id}'.", "invalid_request_error", "session_not_found", "session_id")


def session_busy(session_id: str) -> GatewayError:
    return GatewayError(
        409, f"Session '{session_id}' is busy with another request; retry when it has finished.",
        "invalid_request_error", "session_busy", "session_id",
    )


def chain(messages: list[Message], start: str = "") -> list[str]:
    """h[i] = sha256(h[i-1] + message i): h[-1] names the whole conversation up to there."""
    hashes, previous = [], start
    for message in messages:
        canonical = json.dumps({"role": message.role, "content": message.content}, sort_keys=True, ensure_ascii=False)
        previous = hashlib.sha256((previous + canonical).encode()).hexdigest()
        hashes.append(previous)
    return hashes


@dataclass
class Session:
    id: str  # as the client knows it; unique per tenant
    tenant: str
    model: str
    system: str | None
    created: float
    last_used: float
    messages: list[Message] = field(default_factory=list)  # the conversation as served so far
    hashes: list[str] = field(default_factory=list)  # chain(messages)
    turns: int = 0
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    stateless: bool = False  # served to a client that resends its history: a continuation target
    uid: str = field(default_factory=lambda: secrets.token_hex(16))  # unique across tenants

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.id)

    def summary(self, ttl: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "session",
            "model": self.model,
            "created": int(self.created),
            "last_used": int(self.last_used),
            "expires_at": int(self.last_used + ttl),
            "turns": self.turns,
            "message_count": len(self.messages),
        }


class SessionRegistry:
    """In-memory sessions. `on_end(uid)` lets the engine end the conversation's process."""

    def __init__(self, ttl: float, on_end: Callable[[str], None], clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._on_end = on_end
        self._clock = clock
        self._sessions: dict[tuple[str, str], Session] = {}  # (tenant, id): ids are per tenant
        # (tenant, model, system, hash of the served history) -> the stateless sessions at that point;
        # several conversations can be word for word the same so far.
        self._continuations: dict[tuple[str, str, str, str], list[Session]] = {}

    # --- lookup -------------------------------------------------------------------------------
    def get(self, tenant: str, session_id: str) -> Session:
        session = self._sessions.get((tenant, session_id))
        if session is None or self._expired(session):
            raise session_not_found(session_id)
        return session

    def list(self, tenant: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.tenant == tenant and not self._expired(s)]

    def continuation(self, tenant: str, model: str, system: str | None, messages: list[Message]) -> Session | None:
        """A free stateless session whose served history `messages` extends.

        Only a history that ends with an assistant turn the gateway produced can match; the
        longest such prefix is tried first. Named sessions are never continued this way: their
        clients send only new messages.
        """
        hashes = chain(messages)
        for end in range(len(messages) - 1, 0, -1):
            if messages[end - 1].role != "assistant":
                continue
            for session in self._continuations.get((tenant, model, _key(system), hashes[end - 1]), []):
                if not self._expired(session) and not session.lock.locked():
                    return session
        return None

    # --- changes ------------------------------------------------------------------------------
    def create(self, tenant: str, model: str, system: str | None, session_id: str | None = None) -> Session:
        """A new session, or the live one of that name (a named session starts on first use).
        Without a name, the session is a stateless one."""
        stateless = session_id is None
        session_id = session_id or f"sess_{secrets.token_hex(12)}"
        existing = self._sessions.get((tenant, session_id))
        if existing is not None and not self._expired(existing):
            return existing
        if existing is not None:
            self._end(existing)
        now = self._clock()
        session = Session(session_id, tenant, model, system, created=now, last_used=now, stateless=stateless)
        self._sessions[session.key] = session
        return session

    def record_turn(self, session: Session, new_messages: list[Message]) -> None:
        """A turn succeeded: its messages (the user's and the answer) join the session."""
        self._forget_continuation(session)
        session.hashes.extend(chain(new_messages, session.hashes[-1] if session.hashes else ""))
        session.messages.extend(new_messages)
        session.turns += 1
        session.last_used = self._clock()
        if session.stateless and session.messages and session.messages[-1].role == "assistant":
            self._continuations.setdefault(self._continuation_key(session), []).append(session)

    def touch(self, session: Session) -> None:
        session.last_used = self._clock()

    def delete(self, tenant: str, session_id: str) -> None:
        self._end(self.get(tenant, session_id))

    def expire(self) -> int:
        """End every session idle for longer than the TTL (and not in a turn); returns how many."""
        ended = [s for s in self._sessions.values() if self._expired(s) and not s.lock.locked()]
        for session in ended:
            self._end(session)
        return len(ended)

    def end_all(self) -> None:
        for session in list(self._sessions.values()):
            self._end(session)

    def stats(self, tenant: str) -> dict[str, Any]:
        mine = self.list(tenant)
        return {
            "object": "session.stats",
            "sessions": len(mine),
            "turns": sum(s.turns for s in mine),
            "messages": sum(len(s.messages) for s in mine),
            "ttl_seconds": int(self.ttl),
        }

    def _end(self, session: Session) -> None:
        self._forget_continuation(session)
        self._sessions.pop(session.key, None)
        self._on_end(session.uid)

    def _forget_continuation(self, session: Session) -> None:
        if not session.hashes:
            return
        key = self._continuation_key(session)
        others = [s for s in self._continuations.get(key, []) if s is not session]
        if others:
            self._continuations[key] = others
        else:
            self._continuations.pop(key, None)

    @staticmethod
    def _continuation_key(session: Session) -> tuple[str, str, str, str]:
        return (session.tenant, session.model, _key(session.system), session.hashes[-1])

    def _expired(self, session: Session) -> bool:
        return self._clock() - session.last_used > self.ttl


def _key(system: str | None) -> str:
    return hashlib.sha256((system or "").encode()).hexdigest()[:16]
