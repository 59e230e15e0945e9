"""Fixtures of the unit tests: `store`, each Store test run on both stores (the embedded SQLite
one, and the shared Redis one on a real redis-server)."""

from __future__ import annotations

import pytest

from app.core.redis import RedisLink
from app.store import RedisStore, Store, open_store


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        opened: Store = open_store(tmp_path / "data")
        yield opened
        opened.close()
        return
    shared = RedisLink.connect(request.getfixturevalue("redis_url"), "test:")
    yield RedisStore(shared)
    await shared.close()
