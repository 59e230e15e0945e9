"""The embedded SQLite store: created and migrated on first open, kept across reopening, and a
database from a newer gateway refused rather than misread."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from app.store import KeyRecord, UsageEntry, open_store
from app.store.schema import MIGRATIONS


async def test_a_new_folder_gets_a_migrated_database_that_outlives_the_store(tmp_path):
    store = open_store(tmp_path / "data")
    await store.add_key(KeyRecord("gk_1", "team", "d" * 64, {"rpm": 3}, created=1.0))
    await store.record(
        UsageEntry(at=86400.5, key_id="gk_1", tenant="key-gk_1", session_id=None, model="m", door="chat")
    )
    store.close()
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        assert db.execute("select version from schema_version").fetchall() == [(len(MIGRATIONS),)]

    again = open_store(tmp_path / "data")
    assert (await again.find_key("d" * 64)).policy == {"rpm": 3}
    [total] = await again.usage(0, 10**10)
    assert (total.day, total.requests, total.key_id) == ("1970-01-02", 1, "gk_1")
    assert await again.revoke_key("gk_1", 2.0) and await again.find_key("d" * 64) is None
    assert not await again.revoke_key("gk_1", 3.0)
    again.close()


def test_a_database_of_a_newer_gateway_is_refused(tmp_path):
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        db.execute("update schema_version set version = 99")
    with pytest.raises(RuntimeError, match="schema version 99"):
        open_store(tmp_path)


def test_a_ledger_made_before_error_codes_gets_the_column_and_keeps_its_rows(tmp_path):
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "gateway.db") as db:  # as a v2 gateway left it
        columns = [row[1] for row in db.execute("pragma table_info(usage)") if row[1] != "error"]
        db.execute(f"create table usage_v2 as select {', '.join(columns)} from usage")
        db.execute("drop table usage")
        db.execute("alter table usage_v2 rename to usage")
        db.execute(
            "insert into usage (at, day, tenant, model, door, input_tokens, output_tokens, cache_read_input_tokens,"
            " cache_creation_input_tokens, cost_usd, duration_ms, status)"
            " values (1, '1970-01-01', 't', 'm', 'chat', 1, 2, 0, 0, 0, 5, 'error')"
        )
        db.execute("update schema_version set version = 2")
    store = open_store(tmp_path)
    try:
        [entry] = asyncio.run(store.failures(10))
        assert entry.status == "error" and entry.error is None and entry.output_tokens == 2
    finally:
        store.close()


def test_a_batch_store_reads_pending_requests_and_counts_from_an_index(tmp_path):
    # The runner asks, each round, for a batch's next pending request and its counts by state: by
    # the primary key alone SQLite read every row (params and results) of a 100k-request batch.
    from app.batches.sqlite import BatchStore

    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "gateway.db") as db:  # as a v5 gateway left it
        db.execute("drop index if exists batch_requests_batch_state")
        db.execute("update schema_version set version = 5")
    BatchStore(tmp_path).close()
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        plans = [
            " ".join(row[3] for row in db.execute("explain query plan " + query))
            for query in (
                "select idx from batch_requests where batch_id = 'b' and state = 'pending' order by idx limit 1",
                "select batch_id, state, count(*) from batch_requests where batch_id in ('b') group by batch_id, state",
            )
        ]
    assert all("batch_requests_batch_state" in plan for plan in plans), plans
    assert "COVERING INDEX" in plans[1]


def test_a_v8_ledger_gets_the_hosted_call_counts_and_keeps_its_rows(tmp_path):
    open_store(tmp_path).close()
    counts = ("web_search_requests", "web_fetch_requests", "mcp_calls")
    with sqlite3.connect(tmp_path / "gateway.db") as db:  # as a v8 gateway left it
        columns = [row[1] for row in db.execute("pragma table_info(usage)") if row[1] not in counts]
        db.execute(f"create table usage_v8 as select {', '.join(columns)} from usage")
        db.execute("drop table usage")
        db.execute("alter table usage_v8 rename to usage")
        db.execute(
            "insert into usage (at, day, tenant, key_id, model, door, input_tokens, output_tokens,"
            " cache_read_input_tokens, cache_creation_input_tokens, cost_usd, duration_ms, status)"
            " values (86400.5, '1970-01-02', 't', 'gk_1', 'm', 'chat', 1, 2, 0, 0, 0.5, 5, 'ok')"
        )
        db.execute("update schema_version set version = 8")
    store = open_store(tmp_path)
    try:
        asyncio.run(
            store.record(
                UsageEntry(86400.7, "gk_1", "t", None, "m", "chat", web_search_requests=2, web_fetch_requests=1)
            )
        )
        [total] = asyncio.run(store.usage(0, 10**10))
        assert (total.requests, total.input_tokens, total.cost_usd) == (2, 1, 0.5)
        assert (total.web_search_requests, total.web_fetch_requests, total.mcp_calls) == (2, 1, 0)
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        assert db.execute("select version from schema_version").fetchall() == [(len(MIGRATIONS),)]
        old = db.execute("select web_search_requests, mcp_calls from usage where at = 86400.5").fetchall()
        assert old == [(0, 0)]
