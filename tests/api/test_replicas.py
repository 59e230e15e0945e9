"""Two gateway apps sharing one real redis-server, as two replicas behind a load balancer would:
a session started on one goes on at the other, whichever way its client names it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.errors import GatewayError
from app.core.events import Finish, TextDelta
from app.core.messages import Message
from app.core.turn import CONTINUED, NAMED
from tests.real_redis import RedisServer
from tests.support import ask, free_port, make_client


def replica(**settings):
    """An app whose scripted engine answers with the last user text, remembered as its answer."""
    client, engine = make_client(**settings)

    async def echo(turn):
        engine.turns.append(turn)
        text = next((b["text"] for b in turn.prompt.content if b.get("type") == "text"), "")
        yield TextDelta(text)
        yield Finish("stop", message=Message("assistant", [{"type": "text", "text": text}]))

    engine.stream = echo  # type: ignore[method-assign]
    return client, engine


def gated(engine) -> asyncio.Event:
    """Make `engine`'s turns wait for the returned event, then answer "gated answer"."""
    gate = asyncio.Event()

    async def stream(turn):
        engine.turns.append(turn)
        await gate.wait()
        yield TextDelta("gated answer")
        yield Finish("stop", message=Message("assistant", [{"type": "text", "text": "gated answer"}]))

    engine.stream = stream
    return gate


@pytest.fixture
def replicas(redis_url):
    return replica(redis_url=redis_url), replica(redis_url=redis_url)


def said(engine) -> list[tuple[str, str]]:
    """What the last turn's conversation was, as (role, text) pairs."""
    return [(m.role, " ".join(b.get("text", "") for b in m.content)) for m in engine.turns[-1].messages]


async def test_a_named_session_goes_on_at_the_other_replica(replicas):
    (a, engine_a), (b, engine_b) = replicas
    first = await a.post("/v1/chat/completions", json=ask("My name is Ann.", session_id="s1"))
    assert first.status_code == 200, first.text
    second = await b.post("/v1/chat/completions", json=ask("What is my name?", session_id="s1"))
    assert second.status_code == 200, second.text
    assert said(engine_b) == [
        ("user", "My name is Ann."),
        ("assistant", "My name is Ann."),
        ("user", "What is my name?"),
    ]
    assert engine_b.turns[-1].worth == NAMED
    assert engine_b.turns[-1].conversation_id == engine_a.turns[-1].conversation_id  # one conversation
    # and back on the first replica, which must not take its stale copy for the truth
    third = await a.post("/v1/chat/completions", json=ask("And now?", session_id="s1"))
    assert third.status_code == 200
    assert len(engine_a.turns[-1].messages) == 5
    session = (await b.get("/v1/sessions/s1")).json()
    assert session["turns"] == 3 and session["message_count"] == 6


async def test_a_stateless_client_alternating_replicas_continues_one_session(replicas):
    (a, engine_a), (b, engine_b) = replicas
    history: list[dict] = []
    ids = set()
    for i, (client, engine) in enumerate([(a, engine_a), (b, engine_b), (a, engine_a), (b, engine_b)]):
        response = await client.post("/v1/chat/completions", json=ask(f"turn {i}", history))
        assert response.status_code == 200, response.text
        history += [{"role": "user", "content": f"turn {i}"}, response.json()["choices"][0]["message"]]
        ids.add(engine.turns[-1].conversation_id)
        if i:
            assert engine.turns[-1].worth == CONTINUED
    assert len(ids) == 1  # never a new conversation
    listed = (await a.get("/v1/sessions")).json()["data"]
    assert len(listed) == 1 and listed[0]["turns"] == 4


async def test_a_delete_on_one_replica_is_seen_by_the_other(replicas):
    (a, engine_a), (b, _) = replicas
    assert (await a.post("/v1/chat/completions", json=ask("My name is Ann.", session_id="s2"))).status_code == 200
    assert (await a.get("/v1/sessions/s2")).status_code == 200
    assert (await b.delete("/v1/sessions/s2")).status_code == 200
    assert (await a.get("/v1/sessions/s2")).status_code == 404
    assert (await b.delete("/v1/sessions/s2")).status_code == 404
    again = await a.post("/v1/chat/completions", json=ask("Who am I?", session_id="s2"))
    assert again.status_code == 200
    assert said(engine_a) == [("user", "Who am I?")]  # started over: nothing of the deleted one
    assert (await b.get("/v1/sessions/s2")).json()["turns"] == 1


async def test_turns_on_one_session_through_two_replicas_take_turns(redis_url):
    a, engine_a = replica(redis_url=redis_url, session_busy_wait=10)
    b, engine_b = replica(redis_url=redis_url, session_busy_wait=10)
    gate = gated(engine_a)
    first = asyncio.create_task(a.post("/v1/chat/completions", json=ask("one", session_id="s3")))
    while not engine_a.turns:
        await asyncio.sleep(0.01)
    second = asyncio.create_task(b.post("/v1/chat/completions", json=ask("two", session_id="s3")))
    await asyncio.sleep(0.3)
    assert not second.done() and not engine_b.turns  # waits for the turn on the other replica
    gate.set()
    assert (await first).status_code == 200
    assert (await second).status_code == 200
    # the second turn saw the first one's answer: neither was lost
    assert said(engine_b) == [("user", "one"), ("assistant", "gated answer"), ("user", "two")]
    assert (await a.get("/v1/sessions/s3")).json()["message_count"] == 4


async def test_a_busy_session_on_another_replica_is_a_409_when_waiting_is_off(redis_url):
    a, engine_a = replica(redis_url=redis_url)
    b, _ = replica(redis_url=redis_url, session_busy_wait=0)
    gate = gated(engine_a)
    first = asyncio.create_task(a.post("/v1/chat/completions", json=ask("one", session_id="s4")))
    while not engine_a.turns:
        await asyncio.sleep(0.01)
    busy = await b.post("/v1/chat/completions", json=ask("two", session_id="s4"))
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "session_busy"
    gate.set()
    assert (await first).status_code == 200


async def test_a_turn_that_ends_after_its_session_was_deleted_elsewhere_does_not_bring_it_back(redis_url):
    a, engine_a = replica(redis_url=redis_url)
    b, _ = replica(redis_url=redis_url)
    assert (await a.post("/v1/chat/completions", json=ask("hello", session_id="s5"))).status_code == 200
    gate = gated(engine_a)
    count = len(engine_a.turns)
    running = asyncio.create_task(a.post("/v1/chat/completions", json=ask("more", session_id="s5")))
    while len(engine_a.turns) == count:
        await asyncio.sleep(0.01)
    assert (await b.delete("/v1/sessions/s5")).status_code == 200
    gate.set()
    assert (await running).status_code == 200  # the answer stands
    assert (await a.get("/v1/sessions/s5")).status_code == 404
    assert (await b.get("/v1/sessions/s5")).status_code == 404


async def test_a_failed_turn_on_one_replica_leaves_the_shared_session_as_it_was(replicas):
    (a, engine_a), (b, engine_b) = replicas
    assert (await a.post("/v1/chat/completions", json=ask("My name is Ann.", session_id="s6"))).status_code == 200

    async def failing(turn):
        engine_b.turns.append(turn)
        yield TextDelta("half")
        raise GatewayError(502, "The Claude process failed.", "api_error", "claude_process_failed")

    engine_b.stream = failing  # type: ignore[method-assign]
    assert (await b.post("/v1/chat/completions", json=ask("lost", session_id="s6"))).status_code == 502
    assert (await a.post("/v1/chat/completions", json=ask("Still there?", session_id="s6"))).status_code == 200
    assert said(engine_a) == [("user", "My name is Ann."), ("assistant", "My name is Ann."), ("user", "Still there?")]


async def test_sessions_are_listed_forked_and_kept_apart_across_replicas(redis_url):
    keys = "key-one,key-two"
    a, _ = replica(redis_url=redis_url, api_keys=keys)
    b, _ = replica(redis_url=redis_url, api_keys=keys)
    one, two = {"Authorization": "Bearer key-one"}, {"Authorization": "Bearer key-two"}
    body = ask("My name is Ann.", session_id="s7")
    assert (await a.post("/v1/chat/completions", json=body, headers=one)).status_code == 200
    assert [s["id"] for s in (await b.get("/v1/sessions", headers=one)).json()["data"]] == ["s7"]
    assert (await b.get("/v1/sessions", headers=two)).json()["data"] == []
    assert (await b.get("/v1/sessions/s7", headers=two)).status_code == 404
    assert (await b.delete("/v1/sessions/s7", headers=two)).status_code == 404
    stats = (await b.get("/v1/sessions/stats", headers=one)).json()
    assert stats["sessions"] == 1 and stats["messages"] == 2
    forked = await b.post("/v1/sessions/s7/fork", json={"id": "s7-fork"}, headers=one)
    assert forked.status_code == 201, forked.text
    turn = await a.post("/v1/chat/completions", json=ask("Who am I?", session_id="s7-fork"), headers=one)
    assert turn.status_code == 200
    assert (await a.get("/v1/sessions/s7", headers=one)).json()["turns"] == 1  # the source is untouched
    assert (await b.get("/v1/sessions/s7-fork", headers=one)).json()["message_count"] == 4


async def test_what_redis_holds_expires_with_the_session(redis_url):
    a, _ = replica(redis_url=redis_url, session_ttl=120)
    assert (await a.post("/v1/chat/completions", json=ask("hello", session_id="s8"))).status_code == 200
    client = aioredis.Redis.from_url(redis_url)
    keys = [
        k
        for pattern in ("session*", "messages:*", "continuation:*")
        async for k in client.scan_iter(f"claude-gateway:{pattern}")
    ]
    assert len(keys) >= 3, "nothing was shared"
    for key in keys:
        ttl = await client.pttl(key)
        if key != b"claude-gateway:sessions":  # the admin's index, trimmed by time when read
            assert 0 < ttl <= 120_000, (key, ttl)
    await client.aclose()


async def test_a_delete_on_one_replica_ends_the_other_replicas_process_at_once(redis_url):
    a, engine_a = replica(redis_url=redis_url)
    b, _ = replica(redis_url=redis_url)
    app_a = a._transport.app  # type: ignore[attr-defined]
    ended: list[str] = []
    app_a.state.gateway.sessions.registry._on_end = ended.append  # what ends a conversation's process
    async with app_a.router.lifespan_context(app_a):  # runs A's subscription to ended sessions
        assert (await a.post("/v1/chat/completions", json=ask("hello", session_id="s9"))).status_code == 200
        uid = engine_a.turns[-1].conversation_id
        assert (await b.delete("/v1/sessions/s9")).status_code == 200
        for _ in range(200):
            if uid in ended:
                break
            await asyncio.sleep(0.01)
        assert uid in ended  # not left to idle out


async def test_a_keys_session_limit_holds_over_both_replicas(redis_url):
    a, _ = replica(redis_url=redis_url, max_sessions_per_key=2)
    b, _ = replica(redis_url=redis_url, max_sessions_per_key=2)
    assert (await a.post("/v1/chat/completions", json=ask("one", session_id="n1"))).status_code == 200
    assert (await b.post("/v1/chat/completions", json=ask("two", session_id="n2"))).status_code == 200
    refused = await a.post("/v1/chat/completions", json=ask("three", session_id="n3"))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_sessions"
    assert (await b.post("/v1/chat/completions", json=ask("again", session_id="n1"))).status_code == 200  # known
    # an idle stateless session makes room for a new one, whichever replica holds it
    assert (await b.delete("/v1/sessions/n2")).status_code == 200
    assert (await a.post("/v1/chat/completions", json=ask("stateless"))).status_code == 200
    assert (await b.post("/v1/chat/completions", json=ask("n3 at last", session_id="n3"))).status_code == 200
    ids = sorted(s["id"] for s in (await a.get("/v1/sessions")).json()["data"])
    assert ids == ["n1", "n3"]


async def test_a_fork_onto_a_name_another_replica_holds_is_a_409(replicas):
    (a, _), (b, _) = replicas
    assert (await a.post("/v1/chat/completions", json=ask("one", session_id="f1"))).status_code == 200
    assert (await a.post("/v1/chat/completions", json=ask("two", session_id="f2"))).status_code == 200
    taken = await b.post("/v1/sessions/f1/fork", json={"id": "f2"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "session_exists"
    assert (await a.get("/v1/sessions/f2")).json()["message_count"] == 2  # untouched


async def test_redis_lost_during_a_turn_fails_that_turn_with_a_503_in_the_doors_envelope(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    try:
        a, engine = make_client(redis_url=server.url)

        async def loses_redis(turn):
            engine.turns.append(turn)
            yield TextDelta("an answer")
            server.stop()  # after the turn took its lock, before it is written back
            yield Finish("stop", message=Message("assistant", [{"type": "text", "text": "an answer"}]))

        engine.stream = loses_redis  # type: ignore[method-assign]
        whole = await a.post("/v1/chat/completions", json=ask("hello", session_id="lost"))
        assert whole.status_code == 503 and whole.json()["error"]["code"] == "store_unavailable"
        assert whole.headers["retry-after"] == "5"
        server.start()
        stream = await a.post(
            "/v1/messages", json={**ask("again", session_id="lost2"), "max_tokens": 50, "stream": True}
        )
        assert stream.status_code == 200
        error = stream.text.split("event: error\ndata: ")[1].splitlines()[0]  # the stream's own failure event
        assert json.loads(error)["error"] == {
            "type": "overloaded_error",
            "message": "The gateway's shared store cannot be reached; retry shortly.",
        }
    finally:
        server.stop()


async def test_a_failed_pull_while_continuing_a_stateless_session_leaves_no_lock_behind(redis_url):
    a, _ = replica(redis_url=redis_url)
    first = await a.post("/v1/chat/completions", json=ask("hello"))
    assert first.status_code == 200
    history = [{"role": "user", "content": "hello"}, first.json()["choices"][0]["message"]]
    shared = a._transport.app.state.gateway.sessions.keeper.redis  # type: ignore[attr-defined]
    real_pull, failures = shared.pull, [1]

    async def flaky_pull(session):
        if failures:
            failures.pop()
            raise RedisConnectionError("Redis blinked")
        return await real_pull(session)

    shared.pull = flaky_pull
    failed = await a.post("/v1/chat/completions", json=ask("again", history))
    assert failed.status_code == 503
    registry = a._transport.app.state.gateway.sessions.registry  # type: ignore[attr-defined]
    held = [s for s in registry._sessions.values() if s.lock.locked()]
    client = aioredis.Redis.from_url(redis_url)
    locks = [k async for k in client.scan_iter("claude-gateway:lock:*")]
    await client.aclose()
    assert not held and not locks, (held, locks)


async def test_a_session_deleted_during_its_first_turn_on_the_same_replica_stays_deleted(redis_url):
    a, engine_a = replica(redis_url=redis_url)
    gate = gated(engine_a)
    running = asyncio.create_task(a.post("/v1/chat/completions", json=ask("one", session_id="d1")))
    while not engine_a.turns:
        await asyncio.sleep(0.01)
    assert (await a.delete("/v1/sessions/d1")).status_code == 200
    gate.set()
    assert (await running).status_code == 200
    assert (await a.get("/v1/sessions/d1")).status_code == 404
    assert [s["id"] for s in (await a.get("/v1/sessions")).json()["data"]] == []


async def test_a_client_leaving_a_stream_lets_go_of_the_sessions_lock_in_redis(redis_url):
    a, engine_a = replica(redis_url=redis_url)
    app = a._transport.app  # type: ignore[attr-defined]
    closed = asyncio.Event()

    async def endless(turn):
        engine_a.turns.append(turn)
        try:
            yield TextDelta("first")
            await asyncio.Event().wait()
            yield Finish("stop")
        finally:
            closed.set()

    engine_a.stream = endless  # type: ignore[method-assign]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with http.stream(
                "POST", "/v1/chat/completions", json={**ask("hi", session_id="c1"), "stream": True}
            ) as r:
                async for _ in r.aiter_raw():
                    break
        await asyncio.wait_for(closed.wait(), 10)
        registry = app.state.gateway.sessions.registry
        while registry.local("anonymous", "c1").lock.locked():
            await asyncio.sleep(0.01)
        client = aioredis.Redis.from_url(redis_url)
        for _ in range(100):  # the release is a round trip away at most
            if not await client.exists("claude-gateway:lock:anonymous:c1"):
                break
            await asyncio.sleep(0.01)
        left = await client.pttl("claude-gateway:lock:anonymous:c1")
        await client.aclose()
        assert left == -2, f"the lock outlives the turn by {left} ms"
    finally:
        server.should_exit = True
        await serving


async def test_a_late_announcement_of_a_delete_spares_the_session_made_again_under_that_name(redis_url):
    a, _ = replica(redis_url=redis_url)
    service = a._transport.app.state.gateway.sessions  # type: ignore[attr-defined]
    assert (await a.post("/v1/chat/completions", json=ask("one", session_id="again"))).status_code == 200
    old = service.registry.local("anonymous", "again").uid
    assert (await a.delete("/v1/sessions/again")).status_code == 200
    assert (await a.post("/v1/chat/completions", json=ask("two", session_id="again"))).status_code == 200
    service.keeper.ended_elsewhere("session", "anonymous", "again", old)  # the delete's news, arriving late
    assert not service.registry.local("anonymous", "again").gone
    assert (await a.get("/v1/sessions/again")).json()["turns"] == 1


async def test_an_expired_stateless_session_is_taken_off_its_continuation_list(redis_url):
    a, _ = replica(redis_url=redis_url)
    first = await a.post("/v1/chat/completions", json=ask("hello"))
    history = [{"role": "user", "content": "hello"}, first.json()["choices"][0]["message"]]
    client = aioredis.Redis.from_url(redis_url)
    [listed] = [k async for k in client.scan_iter("claude-gateway:continuation:*")]
    for key in [k async for k in client.scan_iter("claude-gateway:session:*")]:
        await client.delete(key)  # as if it expired
    assert (await a.post("/v1/chat/completions", json=ask("again", history))).status_code == 200
    assert await client.smembers(listed) == set()
    await client.aclose()
