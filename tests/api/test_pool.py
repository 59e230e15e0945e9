"""The process pool's bookkeeping on the fake CLI: spares, which parked process goes first when
room is needed (worth, then age), the memory budget, idle timeouts by class, and freezing."""

from __future__ import annotations

import asyncio

import pytest
from claude_agent_sdk import ClaudeAgentOptions

from app.core.errors import GatewayError
from app.core.turn import CONTINUED, HELD, NAMED, ONE_OFF
from app.engine.processes import pool as pool_module
from app.engine.processes.options import Spawn
from app.engine.processes.pool import ProcessPool
from tests.support import FAKE_CLAUDE, ask


def options(tmp_path, name: str) -> Spawn:
    cwd = tmp_path / name
    cwd.mkdir(exist_ok=True)
    return Spawn(ClaudeAgentOptions(tools=[], setting_sources=[], cwd=str(cwd), cli_path=str(FAKE_CLAUDE)))


def small_pool(**overrides) -> ProcessPool:
    settings = dict(
        max_live=4,
        memory_budget=1 << 40,
        spares_per_key=1,
        most_spares_per_key=1,
        warm_keys=1,
        busy_wait=1,
        connect_timeout=10,
    )
    return ProcessPool(**(settings | overrides))


async def test_a_spare_for_an_option_set_gone_cold_is_not_kept(tmp_path, config_dir):
    pool = small_pool()
    pool.keep_warm("k1", lambda: options(tmp_path, "k1"))
    pool.keep_warm("k2", lambda: options(tmp_path, "k2"))  # k1 goes cold while its spare waits to start
    try:
        for _ in range(200):
            if pool.stats()["spares"] and not pool._background:
                break
            await asyncio.sleep(0.05)
        pool.close_idle(idle_timeout=3600, one_off_timeout=3600)
        assert list(pool.spares.by_key) in (["k2"], [])
        assert pool.stats()["spares"] == 1
    finally:
        await pool.close_all(10)


async def test_a_spare_that_is_still_starting_is_taken_not_killed(tmp_path, config_dir):
    pool = small_pool()
    pool.keep_warm("k", lambda: options(tmp_path, "k"))
    try:
        for _ in range(400):
            if pool.spares.by_key.get("k"):
                break
            await asyncio.sleep(0.01)
        assert pool.spares.by_key["k"][0].connecting
        spare = await pool.ready_spare("k")
        assert spare is not None and spare.alive
    finally:
        await pool.close_all(10)


def state_of(pid: int) -> str:
    """The process's state letter from /proc (T: stopped)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


async def parked(pool: ProcessPool, tmp_path, name: str, worth: int, evicted: list[str]):
    process = await pool.spawn(options(tmp_path, name))
    pool.park(process, lambda: evicted.append(name), worth)
    return process


async def test_room_is_made_from_the_least_worth_first_then_the_oldest(tmp_path, config_dir):
    pool = small_pool(max_live=4, spares_per_key=0)
    evicted: list[str] = []
    try:
        await parked(pool, tmp_path, "held", HELD, evicted)
        await parked(pool, tmp_path, "named", NAMED, evicted)
        await parked(pool, tmp_path, "one-off old", ONE_OFF, evicted)
        await parked(pool, tmp_path, "one-off new", ONE_OFF, evicted)
        for expected in (["one-off old"], ["one-off old", "one-off new"], ["one-off old", "one-off new", "named"]):
            process = await pool.spawn(options(tmp_path, "new"))
            assert evicted == expected
            pool.park(process, lambda: evicted.append("new"), HELD)
    finally:
        await pool.close_all(10)


async def test_the_memory_budget_limits_processes_like_the_process_limit(tmp_path, config_dir, monkeypatch):
    # Every process counts its resident memory; the budget holds two (the estimate is what a new one adds).
    monkeypatch.setattr(pool_module, "rss", lambda pid: 100)
    monkeypatch.setattr(pool_module, "ESTIMATE", 100)
    pool = small_pool(max_live=10, memory_budget=250, spares_per_key=0, busy_wait=0.2)
    evicted: list[str] = []
    try:
        await parked(pool, tmp_path, "a", CONTINUED, evicted)
        second = await pool.spawn(options(tmp_path, "b"))  # in a turn: not evictable
        third = await pool.spawn(options(tmp_path, "c"))  # room made from the parked one
        assert evicted == ["a"]
        with pytest.raises(GatewayError) as refused:
            await pool.spawn(options(tmp_path, "d"))
        assert refused.value.status == 429 and refused.value.code == "gateway_busy"
        assert {second, third} <= pool.processes
    finally:
        await pool.close_all(10)


async def test_one_offs_close_sooner_than_conversations_that_go_on(tmp_path, config_dir):
    pool = small_pool(spares_per_key=0)
    evicted: list[str] = []
    try:
        for name, worth in (("one-off", ONE_OFF), ("continued", CONTINUED), ("named", NAMED)):
            await parked(pool, tmp_path, name, worth, evicted)
        await asyncio.sleep(0.3)
        assert pool.close_idle(idle_timeout=3600, one_off_timeout=0.1) == 1
        assert evicted == ["one-off"]
        assert pool.close_idle(idle_timeout=0.1, one_off_timeout=0.1) == 2
        assert sorted(evicted) == ["continued", "named", "one-off"]
    finally:
        await pool.close_all(10)


async def test_an_idle_process_is_frozen_and_thawed_for_its_next_turn(tmp_path, config_dir, monkeypatch):
    monkeypatch.setattr(pool_module, "FREEZE_AFTER", 0.2)
    pool = small_pool(spares_per_key=0)
    try:
        process = await pool.spawn(options(tmp_path, "a"))
        assert process.pid is not None
        pool.park(process, lambda: None, NAMED)
        for _ in range(100):
            if state_of(process.pid) == "T":
                break
            await asyncio.sleep(0.05)
        assert state_of(process.pid) == "T" and process.frozen
        pool.unpark(process)
        assert state_of(process.pid) != "T" and not process.frozen
        await asyncio.sleep(0.5)
        assert state_of(process.pid) != "T"  # in use: the earlier freeze does not apply
    finally:
        await pool.close_all(10)


async def test_a_frozen_process_still_closes(tmp_path, config_dir, monkeypatch):
    monkeypatch.setattr(pool_module, "FREEZE_AFTER", 0.1)
    pool = small_pool(spares_per_key=0)
    process = await pool.spawn(options(tmp_path, "a"))
    pool.park(process, lambda: None, NAMED)
    for _ in range(100):
        if process.frozen:
            break
        await asyncio.sleep(0.05)
    assert process.frozen
    await pool.close_all(10)
    assert process.state == "exited"


async def test_stats_show_the_spares_the_memory_in_use_and_the_budget(gateway):
    client, engine, _ = await gateway(spare_processes=1, memory_budget_mb=4096)
    assert (await client.post("/v1/chat/completions", json=ask("first"))).status_code == 200
    for _ in range(200):
        figures = (await client.get("/v1/sessions/stats")).json()["gateway"]["processes"]
        if figures["spares"] == 1:
            break
        await asyncio.sleep(0.05)
    assert figures["spares"] == 1 and figures["memory_budget_mib"] == 4096
    # The fake CLI's resident memory, read from /proc: more than nothing, less than the estimate for two.
    assert 0 < figures["memory_in_use_mib"] < 2 * 220 * (figures["live"] + figures["exiting"])


async def test_spares_start_two_at_a_time_until_the_target_is_reached(tmp_path, config_dir):
    pool = small_pool(spares_per_key=4, most_spares_per_key=4)
    try:
        pool.keep_warm("k", lambda: options(tmp_path, "k"))
        most_starting = pool.spares.starting()
        for _ in range(400):
            most_starting = max(most_starting, pool.spares.starting())
            if len(pool.spares.by_key.get("k", [])) == 4 and pool.spares.starting() == 0:
                break
            await asyncio.sleep(0.01)
        assert len(pool.spares.by_key["k"]) == 4 and all(p.alive for p in pool.spares.by_key["k"])
        assert most_starting == pool_module.SPARES_STARTING
    finally:
        await pool.close_all(10)


async def test_stats_count_held_processes_and_each_start_reports_its_time(tmp_path, config_dir):
    pool = small_pool(spares_per_key=0)
    starts: list[float] = []
    pool.on_spawned = starts.append  # what /metrics' process_spawn_seconds observes
    try:
        await parked(pool, tmp_path, "held", HELD, [])
        await parked(pool, tmp_path, "named", NAMED, [])
        assert pool.stats()["held"] == 1 and pool.stats()["parked"] == 2
        assert len(starts) == 2 and all(seconds > 0 for seconds in starts)
    finally:
        await pool.close_all(10)
