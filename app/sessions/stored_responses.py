"""Stored Responses (OpenAI Responses API): what GET /v1/responses/{id} returns, and where the
conversation up to each response lives, which `previous_response_id` continues.

In memory, a stored response keeps a pointer into the session registry, not a copy of its
conversation: the session holds the messages once. Only what a stateless session drops, image
bytes, is kept here (see `Pointer`). Bounded by count and by bytes (the kept images count): the
oldest go first.

Each response is also written to the store (app/store: SQLite by default) with only the messages
it added to its conversation and the id of the response before it. So after a restart, or once its
session has ended, a response can still be read, and continued: the chain of `previous_id`s gives
the whole conversation back, and the engine rebuilds it for Claude. Both forget it after the TTL.
A session deleted by its client takes the conversations of its responses with it (the responses
themselves can still be read).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import GatewayError
from ..core.messages import Message
from ..store import ResponseRecord, Store
from ..store.null import NullStore
from .registry import SessionRegistry
from .session import Pointer


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
        store: Store | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._clock = clock
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._store: Store = store or NullStore()
        self._writes: set[asyncio.Task[None]] = set()

    def put(self, response_id: str, item: StoredResponse, previous_id: str | None, added: list[Message]) -> None:
        """Keep a response; `added` are the messages it added to the conversation of `previous_id`."""
        record = ResponseRecord(
            response_id,
            item.tenant,
            previous_id,
            item.system,
            [{"role": m.role, "content": m.content} for m in added],
            item.response,
            item.stored_at,
            item.pointer.uid if item.pointer else None,
        )
        write = asyncio.get_running_loop().create_task(self._store.put_response(record))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        item.size = item.measure()
        if item.size > self.max_bytes:
            return  # larger than the whole memory: kept by the store alone rather than emptying it
        self._items[response_id] = item
        self.bytes += item.size
        while len(self._items) > self.max_items or self.bytes > self.max_bytes:
            self._drop(next(iter(self._items)))

    async def get(self, tenant: str, response_id: str, param: str | None = None) -> dict[str, Any]:
        """What GET /v1/responses/{id} returns."""
        item = self._items.get(response_id)
        if item is not None and item.tenant == tenant and self._fresh(item.stored_at):
            return item.response
        return (await self._record(tenant, response_id, param)).response

    async def earlier(
        self, tenant: str, response_id: str | None, sessions: SessionRegistry
    ) -> tuple[list[Message], str | None]:
        """The conversation up to and including a response (`previous_response_id`), and its system
        prompt; nothing for no response. From its live session where there is one, else from the
        store's chain of responses."""
        if response_id is None:
            return [], None
        item = self._items.get(response_id)
        if item is not None and item.tenant == tenant and self._fresh(item.stored_at) and item.pointer:
            conversation = sessions.conversation(item.pointer)
            if conversation is not None:
                return conversation, item.system
        record = await self._record(tenant, response_id, "previous_response_id")
        system, chain = record.system, [record]
        while chain[-1].previous_id is not None:
            before = await self._store.get_response(chain[-1].previous_id)
            if before is None or before.tenant != tenant or not self._fresh(before.stored_at):
                raise conversation_ended(response_id)
            chain.append(before)
        if any(link.messages is None for link in chain):
            raise conversation_ended(response_id)  # a session it went through was deleted
        messages = [Message(m["role"], m["content"]) for link in reversed(chain) for m in link.messages or []]
        return messages, system

    async def delete(self, tenant: str, response_id: str) -> None:
        await self.get(tenant, response_id)
        await self._settled()  # its own write must not land after the delete
        if response_id in self._items:
            self._drop(response_id)
        await self._store.delete_response(response_id)

    async def forget_session(self, uid: str) -> None:
        """A deleted session takes its responses' conversation with it: they can be read, not continued."""
        await self._settled()  # a response of it may be on its way to the store
        await self._store.forget_session(uid)

    async def delete_tenant(self, tenant: str) -> None:
        """Every response of `tenant`, here and in the store (its key was revoked)."""
        await self._settled()  # its writes under way must not land after the delete
        for response_id in [k for k, v in self._items.items() if v.tenant == tenant]:
            self._drop(response_id)
        await self._store.delete_tenant_responses(tenant)

    async def expire(self) -> None:
        now = self._clock()
        for response_id in [k for k, v in self._items.items() if not self._fresh(v.stored_at, now)]:
            self._drop(response_id)
        await self._store.expire_responses(now - self.ttl)

    async def flush(self) -> None:
        """Until the writes under way have reached the store (at shutdown)."""
        await self._settled()

    async def _settled(self) -> None:
        """Until the writes under way have reached the store."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _record(self, tenant: str, response_id: str, param: str | None) -> ResponseRecord:
        await self._settled()
        record = await self._store.get_response(response_id)
        if record is None or record.tenant != tenant or not self._fresh(record.stored_at):
            raise response_not_found(response_id, param)
        return record

    def _fresh(self, stored_at: float, now: float | None = None) -> bool:
        return (self._clock() if now is None else now) - stored_at <= self.ttl

    def _drop(self, response_id: str) -> None:
        item = self._items.pop(response_id)
        self.bytes -= item.size
