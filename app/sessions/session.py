"""A session's data: what a conversation the gateway keeps is made of, where a stateless one is
listed for its client's resent history to continue, and the figures of a set of sessions."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from ..core.messages import Message, chain


@dataclass(frozen=True)
class Pointer:
    """Where a conversation as served up to some turn lives: the first `length` messages of the
    session `key` (`uid`: that very session, not a later one of the same name), whose chain hash was
    then `digest`. A session only ever grows, so those messages stay as they were while it lives.

    A stateless session keeps no image bytes (see `record_turn`), but a conversation continued from
    here must hash, and reach Claude, with its real content: those messages are kept whole in
    `images`, by position.
    """

    key: tuple[str, str]
    uid: str
    length: int
    digest: str
    images: dict[int, Message] = field(default_factory=dict)


@dataclass
class Session:
    id: str  # as the client knows it; unique per tenant
    tenant: str
    model: str
    system: str | None
    created: float
    last_used: float
    messages: list[Message] = field(default_factory=list)  # the conversation as served so far
    hashes: list[str] = field(default_factory=list)  # chain(messages), of the messages as they were served
    turns: int = 0
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    stateless: bool = False  # served to a client that resends its history: a continuation target
    uid: str = field(default_factory=lambda: secrets.token_hex(16))  # unique across tenants
    gone: bool = False  # ended (deleted, expired); a turn still running on it records nothing
    continuation_key: tuple[str, ...] | None = None  # where it is listed as a continuation
    credential: str | None = None  # the name (credential_names.py) of the caller's own credential; None: the operator's
    # With replicas (redis.py): how many of `messages` Redis has, where Redis lists it as a
    # continuation, and the turn lock this replica holds there.
    stored: int = 0
    listed: tuple[str, ...] | None = None
    lease: Any = field(default=None, repr=False)

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
            "message_count": max(len(self.messages), self.stored),  # a listing from Redis has no messages
        }


def stats_of(sessions: list[Session], ttl: float) -> dict[str, Any]:
    return {
        "object": "session.stats",
        "sessions": len(sessions),
        "turns": sum(s.turns for s in sessions),
        "messages": sum(max(len(s.messages), s.stored) for s in sessions),
        "ttl_seconds": int(ttl),
    }


def continuation_key(
    tenant: str, model: str, system: str | None, credential: str | None, digest: str
) -> tuple[str, ...]:
    """Where a stateless session whose served history hashes to `digest` is listed."""
    return (tenant, model, hashlib.sha256((system or "").encode()).hexdigest()[:16], credential or "", digest)


def continuation_points(
    tenant: str, model: str, system: str | None, messages: list[Message], credential: str | None
) -> list[tuple[str, ...]]:
    """The continuation keys a resent history could extend: each prefix of it that ends with an
    assistant turn, longest first."""
    hashes = chain(messages)
    return [
        continuation_key(tenant, model, system, credential, hashes[end - 1])
        for end in range(len(messages) - 1, 0, -1)
        if messages[end - 1].role == "assistant"
    ]
