"""The background sweep (app/http/lifespan.py): each of its jobs runs even when another fails, so that a
store that is down (Redis) does not stop files from expiring or idle processes from closing."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from app.http.lifespan import sweep
from app.store.schema import files
from tests.support import make_client


async def test_expired_files_are_dropped_even_when_another_sweep_job_fails(tmp_path):
    client, _ = make_client(data_dir=str(tmp_path), session_ttl=1)
    gateway = client._transport.app.state.gateway

    async def down(*_args) -> None:
        raise ConnectionError("the responses' store is down")

    gateway.responses.expire = down
    await gateway.files.add("t1", "a.txt", "batch", "text/plain", b"x", expires_at=time.time() - 1)
    task = asyncio.create_task(sweep(gateway))
    try:
        for _ in range(400):  # the sweep runs every quarter of the session TTL here (0.25 s)
            await asyncio.sleep(0.05)
            if (left := kept(gateway)) == 0:
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert left == 0


def kept(gateway) -> int:
    """The file rows in the database, expired or not (what only the sweep drops)."""
    with gateway.files.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(files)).scalar() or 0)
