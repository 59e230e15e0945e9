"""Stored Responses (OpenAI Responses API): what GET /v1/responses/{id} returns, and the
conversation up to each response, which `previous_response_id` continues."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engine.types import Message
from ..errors import GatewayError

MAX_STORED = 10_000


@dataclass
class StoredResponse:
    tenant: str
    response: dict[str, Any]
    conversation: list[Message]  # every message up to and including this response's answer
    system: str | None
    stored_at: float = field(default_factory=time.time)


def response_not_found(response_id: str, param: str | None = None) -> GatewayError:
    return GatewayError(404, f"No response '{response_id}' (never stored, deleted or expired).",
                        "invalid_request_error", "response_not_found", param)


class ResponseStore:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()

    def put(self, response_id: str, item: StoredResponse) -> None:
        self._items[response_id] = item
        while len(self._items) > MAX_STORED:
            self._items.popitem(last=False)

    def get(self, tenant: str, response_id: str, param: str | None = None) -> StoredResponse:
        item = self._items.get(response_id)
        if item is None or item.tenant != tenant or self._clock() - item.stored_at > self.ttl:
            raise response_not_found(response_id, param)
        return item

    def delete(self, tenant: str, response_id: str) -> None:
        self.get(tenant, response_id)
        del self._items[response_id]

    def expire(self) -> None:
        now = self._clock()
        for response_id in [k for k, v in self._items.items() if now - v.stored_at > self.ttl]:
            del self._items[response_id]
