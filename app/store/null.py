"""A store that keeps nothing: for a session service built without one (unit tests, tools)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from .base import BucketTotal, KeyRecord, Reservation, Reserved, ResponseRecord, Spent, UsageEntry, UsageTotal


class NullStore:
    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}  # kept by this instance alone: it keeps nothing else either

    async def add_key(self, key: KeyRecord) -> None:
        return None

    async def find_key(self, digest: str) -> KeyRecord | None:
        return None

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return None

    async def list_keys(self) -> list[KeyRecord]:
        return []

    async def update_key(self, key: KeyRecord) -> None:
        return None

    async def revoke_key(self, key_id: str, at: float) -> bool:
        return False

    async def record(self, entry: UsageEntry, holds: Sequence[str] = ()) -> None:
        return None

    async def reserve(self, reservation: Reservation) -> Reserved:
        return Reserved(True, Spent(), Spent())

    async def release(self, tenant: str, holds: Sequence[str]) -> None:
        return None

    async def failures(self, limit: int) -> list[UsageEntry]:
        return []

    async def spent(self, tenant: str, since: float) -> Spent:
        return Spent()

    async def usage(
        self, start: float, end: float, tenant: str | None = None, key_id: str | None = None
    ) -> list[UsageTotal]:
        return []

    async def buckets(self, start: float, end: float, width: int) -> list[BucketTotal]:
        return []

    async def put_response(self, record: ResponseRecord) -> None:
        return None

    async def get_response(self, response_id: str) -> ResponseRecord | None:
        return None

    async def delete_response(self, response_id: str) -> None:
        return None

    async def forget_session(self, session: str) -> None:
        return None

    async def delete_tenant_responses(self, tenant: str) -> None:
        return None

    async def expire_responses(self, before: float) -> None:
        return None

    async def shared_secret(self, name: str) -> bytes:
        return self._secrets.setdefault(name, secrets.token_bytes(32))

    def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None
