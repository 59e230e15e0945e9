"""How many spares an option set keeps: its largest recent burst of new conversations, between the
configured base and most, falling back to the base once the burst is DEMAND_WINDOW old."""

from __future__ import annotations

import pytest

from app.engine.processes import spares as spares_module
from app.engine.processes.spares import BURST_GAP, DEMAND_WINDOW, Spares


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(spares_module.time, "monotonic", lambda: now[0])
    return now


def arrivals(spares: Spares, key: str, clock: list[float], gaps: list[float]) -> None:
    """New conversations for `key`, each `gap` seconds after the one before."""
    for gap in gaps:
        clock[0] += gap
        spares.take(key)


def test_a_burst_raises_the_target_and_it_falls_back_after_the_window(clock):
    spares = Spares(base=1, most=8, warm_keys=4)
    spares.warm("k", lambda: None)  # type: ignore[arg-type,return-value]
    assert spares.target("k") == 1
    arrivals(spares, "k", clock, [0, 0.1, 0.1, 0.1, 0.1])  # five at once
    assert spares.target("k") == 5
    clock[0] += DEMAND_WINDOW / 2
    assert spares.target("k") == 5  # still recent
    clock[0] += DEMAND_WINDOW
    assert spares.target("k") == 1


def test_conversations_further_apart_than_the_gap_are_separate_bursts(clock):
    spares = Spares(base=1, most=8, warm_keys=4)
    spares.warm("k", lambda: None)  # type: ignore[arg-type,return-value]
    arrivals(spares, "k", clock, [0, BURST_GAP + 1, BURST_GAP + 1, BURST_GAP + 1])
    assert spares.target("k") == 1
    arrivals(spares, "k", clock, [BURST_GAP + 1, 0.5, 0.5])  # then three together
    assert spares.target("k") == 3


def test_the_target_is_capped_and_zero_without_spares_or_for_a_cold_key(clock):
    capped = Spares(base=1, most=3, warm_keys=1)
    capped.warm("k", lambda: None)  # type: ignore[arg-type,return-value]
    arrivals(capped, "k", clock, [0.1] * 10)
    assert capped.target("k") == 3
    capped.warm("other", lambda: None)  # type: ignore[arg-type,return-value]
    assert capped.target("k") == 0  # went cold: only one option set is kept warm
    none = Spares(base=0, most=8, warm_keys=4)
    none.warm("k", lambda: None)  # type: ignore[arg-type,return-value]
    arrivals(none, "k", clock, [0.1] * 10)
    assert none.target("k") == 0


def test_a_free_start_slot_serves_the_set_without_a_spare_before_a_bursts_second_one(clock):
    """Found by the credentials e2e test: a burst-sized second spare of one option set took the
    slot while another set, whose spare had just been taken, had none."""
    spares = Spares(base=1, most=8, warm_keys=4)
    for key in ("bob", "operator", "alice"):
        spares.warm(key, lambda: None)  # type: ignore[arg-type,return-value]
    spares.by_key = {"bob": [object()], "operator": [object()]}  # type: ignore[list-item]
    assert spares.neediest() == ["alice", "operator", "bob"]  # none first, then the most recent first
