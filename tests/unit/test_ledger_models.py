"""The ledger records a bounded set of model names whatever clients send (model_names.py): a
model Claude Code lists or one of its families' ids that the upstream reported answering with;
anything else a request names is `other`. On Redis its day hashes expire with the reports."""

from __future__ import annotations

import time

import pytest

from app.core.messages import Message
from app.core.redis import RedisLink
from app.core.turn import Turn
from app.store import RedisStore
from app.store.redis_ledger import LEDGER_DAYS
from app.usage.ledger import Ledger, Meter
from app.usage.model_names import OTHER, recorded_model

KNOWN = {"default", "opus", "sonnet", "haiku", "fable", "claude-opus-5-5", "claude-sonnet-5-5"}


@pytest.mark.parametrize(
    "reported, requested, recorded",
    [
        (None, "sonnet", "sonnet"),
        (None, None, "default"),
        ("claude-sonnet-5-5", "sonnet", "claude-sonnet-5-5"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
        ("claude-fable-5-2", "claude-fable-5-2", "claude-fable-5-2"),
        (None, "claude-anything-8123", OTHER),  # failed before any answer: the client's name only
        (None, "claude-sonnet-5-5-20990101", OTHER),  # shaped right, but no upstream confirmed it
        ("claude-sonnet-5-5-x" + "y" * 50, "sonnet", "sonnet"),  # an odd report: the request's
        ("gpt-4o", "gpt-4o", OTHER),
        ("claude-sonnet-5-5\n", None, "default"),
    ],
)
def test_a_turn_is_recorded_under_a_known_name_or_other(reported, requested, recorded):
    assert recorded_model(reported, requested, KNOWN) == recorded


async def test_two_hundred_client_chosen_names_make_one_ledger_row(store):
    ledger = Ledger(store, lambda: KNOWN)
    for i in range(200):
        turn = Turn(f"claude-made-up-{i}", [Message("user", [{"type": "text", "text": "hi"}])], tenant="t1")
        await ledger.record(turn, "gk_1", "chat", None, Meter(), "error", "not_found_error")
    await ledger.record(Turn("sonnet", [], tenant="t1"), "gk_1", "chat", None, Meter(model="claude-sonnet-5-5"), "ok")
    totals = await store.usage(0, time.time() + 86400)
    assert sorted((t.model, t.requests) for t in totals) == [("claude-sonnet-5-5", 1), (OTHER, 200)]


async def test_redis_day_hashes_expire_after_the_reports_retention(redis_url):
    shared = RedisLink.connect(redis_url, "models:")
    ledger = Ledger(RedisStore(shared), lambda: KNOWN)
    await ledger.record(Turn("claude-x-1", [], tenant="t1"), "gk_1", "chat", None, Meter(), "error")
    names = [n.decode() for n in await shared.client.keys("models:ledger:*")]
    lasting = [n for n in names if n not in ("models:ledger:days", "models:ledger:failures")]
    assert lasting and all([0 < await shared.client.ttl(n) <= LEDGER_DAYS * 86400 for n in lasting]), names
    fields = await shared.client.hkeys(next(n for n in names if ":ledger:day:" in n))
    assert all(b'"other"' in field for field in fields)
    await shared.close()
