"""Stored Responses (OpenAI Responses API): what GET /v1/responses/{id} returns, and where the
conversation up to each response lives, which `previous_response_id` continues.

A stored response keeps a pointer into the session registry, not a copy of its conversation: the
session holds the messages once. Only what a stateless session drops, image bytes, is kept here
(see `Pointer`). So a conversation ends with its session: once that was deleted or expired, the
response can still be read, but no longer continued.

Bounded by count and by bytes (the kept images count): the oldest go first.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine.types import Message
from ..errors import GatewayError
from .registry import Pointer, SessionRegistry


@dataclass
class StoredResponse:
    tenant: str
    response: dict[str, Any]
    pointer: Pointer | None  # its conversation, up to and including its answer (None: session ended)
    system: str | None
    stored_at: float = field(default_factory=time.time)
    size: int = 0  # bytes, as counted when stored

    def measure(self) -> int:
        kept = [m.content for m in self.pointer.images.values()] if self.pointer else []
        return len(json.dumps([self.response, kept, self.system], ensure_ascii=False, default=str))


def response_not_found(response_id: str, param: str | None = None) -> GatewayError:
    return GatewayError(
        404,
        f"No response '{response_id}' (never stored, deleted or expired).",
        "invalid_request_error",
        "response_not_found",
        param,
    )


def conversation_ended(response_id: str) -> GatewayError:
    return GatewayError(
        404,
        f"The conversation of response '{response_id}' has ended (its session was deleted or expired), "
        "so it cannot be continued.",
        "invalid_request_error",
        "conversation_not_found",
        "previous_response_id",
    )


class ResponseStore:
    def __init__(
        self,
        ttl: float,
        max_items: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._clock = clock
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()

    def put(self, response_id: str, item: StoredResponse) -> None:
        item.size = item.measure()
        if item.size > self.max_bytes:
            return  # larger than the whole store: kept by nobody rather than emptying it
        self._items[response_id] = item
        self.bytes += item.size
        while len(self._items) > self.max_items or self.bytes > self.max_bytes:
            self._drop(next(iter(self._items)))

    def get(self, tenant: str, response_id: str, param: str | None = None) -> StoredResponse:
        item = self._items.get(response_id)
        if item is None or item.tenant != tenant or self._clock() - item.stored_at > self.ttl:
            raise response_not_found(response_id, param)
        return item

    def earlier(
        self, tenant: str, response_id: str | None, sessions: SessionRegistry
    ) -> tuple[list[Message], str | None]:
        """The conversation up to and including a response (`previous_response_id`), and its system
        prompt; nothing for no response."""
        if response_id is None:
            return [], None
        item = self.get(tenant, response_id, "previous_response_id")
        conversation = sessions.conversation(item.pointer) if item.pointer else None
        if conversation is None:
            raise conversation_ended(response_id)
        return conversation, item.system

    def delete(self, tenant: str, response_id: str) -> None:
        self.get(tenant, response_id)
        self._drop(response_id)

    def expire(self) -> None:
        now = self._clock()
        for response_id in [k for k, v in self._items.items() if now - v.stored_at > self.ttl]:
            self._drop(response_id)

    def _drop(self, response_id: str) -> None:
        item = self._items.pop(response_id)
        self.bytes -= item.size
