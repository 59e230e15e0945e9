"""The Files contract, held by both file stores: SQLite (in the gateway's database) and Redis (on a
real redis-server). A file is its tenant's alone, listed newest first with cursors both ways,
within a size limit and a quota that the gateway's own files skip."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from app.core.errors import GatewayError
from app.core.redis import RedisLink
from app.files import Files, Limits, RedisFiles, SqliteFiles
from app.store import open_sqlite


@pytest.fixture(params=["sqlite", "redis"])
async def files(request, tmp_path):
    limits = Limits(max_file_bytes=100, quota_bytes=250)
    if request.param == "sqlite":
        store = open_sqlite(tmp_path / "data")
        yield SqliteFiles(store.engine, limits)
        store.close()
        return
    shared = RedisLink.connect(request.getfixturevalue("redis_url"), "test:")
    yield RedisFiles(shared, limits)
    await shared.close()


async def test_a_file_is_kept_with_its_record_and_bytes(files: Files):
    added = await files.add("t1", "a.png", "vision", "image/png", b"\x89PNG data")
    assert added.id.startswith("file_") and added.size == 9 and added.tenant == "t1"
    assert await files.get("t1", added.id) == added
    assert await files.content("t1", added.id) == b"\x89PNG data"


async def test_another_tenant_sees_nothing_of_a_file(files: Files):
    added = await files.add("t1", "a.txt", "user_data", "text/plain", b"mine")
    assert await files.get("t2", added.id) is None and await files.content("t2", added.id) is None
    assert await files.list("t2") == []
    assert not await files.delete("t2", added.id)
    assert await files.content("t1", added.id) == b"mine"


async def test_listing_is_newest_first_with_purpose_and_cursors_both_ways(files: Files):
    ids = [
        (await files.add("t1", f"{n}.txt", "batch" if n % 2 else "user_data", "text/plain", b"x")).id for n in range(5)
    ]
    await files.add("t2", "other.txt", "batch", "text/plain", b"x")
    newest_first = ids[::-1]
    assert [f.id for f in await files.list("t1")] == newest_first
    assert [f.id for f in await files.list("t1", limit=2)] == newest_first[:2]
    assert [f.id for f in await files.list("t1", after=newest_first[1], limit=2)] == newest_first[2:4]
    assert [f.id for f in await files.list("t1", before=newest_first[3], limit=2)] == newest_first[1:3]
    assert [f.id for f in await files.list("t1", purpose="batch")] == [ids[3], ids[1]]
    assert await files.list("t1", after="file_unknown") == []


async def test_delete_frees_the_quota(files: Files):
    first = await files.add("t1", "a", "batch", "text/plain", b"x" * 100)
    await files.add("t1", "b", "batch", "text/plain", b"x" * 100)
    with pytest.raises(GatewayError) as refused:
        await files.add("t1", "c", "batch", "text/plain", b"x" * 60)
    assert refused.value.status == 413 and refused.value.code == "files_quota_exceeded"
    await files.add("t2", "c", "batch", "text/plain", b"x" * 60)  # another tenant's quota is its own
    assert await files.delete("t1", first.id) and not await files.delete("t1", first.id)
    assert await files.get("t1", first.id) is None and await files.content("t1", first.id) is None
    await files.add("t1", "c", "batch", "text/plain", b"x" * 60)


async def test_a_file_over_the_size_limit_is_refused_unless_the_gateway_writes_it(files: Files):
    with pytest.raises(GatewayError) as refused:
        await files.add("t1", "big", "batch", "text/plain", b"x" * 101)
    assert refused.value.status == 413 and refused.value.code == "file_too_large"
    own = await files.add("t1", "out.jsonl", "batch_output", "application/jsonl", b"x" * 400, quota=False)
    assert await files.content("t1", own.id) == b"x" * 400


async def test_an_expired_file_is_gone_and_expire_drops_it(files: Files):
    gone = await files.add("t1", "old", "batch_output", "text/plain", b"x", quota=False, expires_at=time.time() - 1)
    kept = await files.add("t1", "new", "batch_output", "text/plain", b"y", quota=False, expires_at=time.time() + 60)
    assert await files.get("t1", gone.id) is None and await files.content("t1", gone.id) is None
    assert [f.id for f in await files.list("t1")] == [kept.id]
    assert await files.expire(time.time()) == 1
    assert await files.get("t1", kept.id) == kept


async def test_uploads_at_once_never_pass_the_quota_together(files: Files):
    """Ten uploads of 100 bytes at the same time against a 250-byte quota: exactly two are kept."""
    tried = await asyncio.gather(
        *(files.add("t1", f"f{n}", "batch", "text/plain", b"x" * 100) for n in range(10)), return_exceptions=True
    )
    kept = [r for r in tried if not isinstance(r, BaseException)]
    assert len(kept) == 2 and all(isinstance(r, GatewayError) and r.status == 413 for r in tried if r not in kept)
    assert sorted(f.id for f in await files.list("t1")) == sorted(f.id for f in kept)


async def test_a_file_is_written_from_an_open_file_a_piece_at_a_time(files: Files, monkeypatch):
    monkeypatch.setattr("app.files.base.CHUNK", 7)  # several pieces
    monkeypatch.setattr("app.files.redis.CHUNK", 7)
    data = bytes(range(95))
    added = await files.add("t1", "a.bin", "user_data", "application/octet-stream", io.BytesIO(data))
    empty = await files.add("t1", "e.bin", "user_data", "application/octet-stream", io.BytesIO(b""))
    assert (added.size, empty.size) == (95, 0)
    assert await files.content("t1", added.id) == data and await files.content("t1", empty.id) == b""
    await files.room("t1", 155)  # 95 of 250 used: 155 more fit
    with pytest.raises(GatewayError) as refused:
        await files.room("t1", 156)
    assert refused.value.status == 413 and refused.value.code == "files_quota_exceeded"
    with pytest.raises(GatewayError):  # past the quota: refused, and nothing staged is left behind
        await files.add("t1", "b.bin", "user_data", "application/octet-stream", io.BytesIO(data[:90]))
        await files.add("t1", "c.bin", "user_data", "application/octet-stream", io.BytesIO(data[:90]))
    if isinstance(files, RedisFiles):
        assert await files.redis.keys(files.shared.key("file-upload", "*")) == []
