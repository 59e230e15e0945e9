"""A session as Redis keeps it (redis.py): its record's `meta` (JSON) and one JSON entry a message."""

from __future__ import annotations

from typing import Any

from ..core.messages import Message
from .session import Session


def meta_of(session: Session) -> dict[str, Any]:
    return {
        "uid": session.uid,
        "id": session.id,
        "tenant": session.tenant,
        "model": session.model,
        "system": session.system,
        "created": session.created,
        "last_used": session.last_used,
        "turns": session.turns,
        "user": session.user,
        "metadata": session.metadata,
        "stateless": session.stateless,
        "credential": session.credential,
        "length": len(session.messages),
        "last_hash": session.hashes[-1] if session.hashes else "",
    }


def session_of(meta: dict[str, Any], messages: list[Message], hashes: list[str]) -> Session:
    """A detached Session (no registry's) as Redis has it; `stored`: every message is there."""
    session = Session(
        meta["id"],
        meta["tenant"],
        meta["model"],
        meta["system"],
        created=meta["created"],
        last_used=meta["last_used"],
        messages=messages,
        hashes=hashes,
        turns=meta["turns"],
        user=meta["user"],
        metadata=meta["metadata"],
        stateless=meta["stateless"],
        uid=meta["uid"],
        credential=meta["credential"],
    )
    session.stored = meta["length"]
    session.listed = session.continuation_key = tuple(meta["continuation"]) if meta.get("continuation") else None
    return session


def message_of(entry: dict[str, Any]) -> Message:
    return Message(entry["role"], entry["content"])
