"""Sessions under concurrency: locks on every Python CI runs, deletes during a turn, continuations
that must not be taken twice, and the bounds on what sessions keep. A gated engine lets each test
decide when a turn ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.credentials import Credential
from app.core.errors import GatewayError
from app.core.events import Event, Finish, TextDelta
from app.core.messages import Message, chain
from app.core.settings import Settings
from app.core.turn import Turn
from app.engine.interface import ModelInfo
from app.http.app import create_app
from app.sessions.registry import SessionRegistry
from app.sessions.service import SessionService
from app.sessions.session import Pointer
from app.sessions.stored_responses import ResponseStore, StoredResponse


class GatedEngine:
    """Echoes the last user text; each turn waits for `gate` (open by default) and logs its end."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.log: list[str] = []
        self.ended: list[str] = []
        self.running = 0

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        self.running += 1
        try:
            await asyncio.sleep(0.01)  # other requests get their turn in between
            await self.gate.wait()
            yield TextDelta("echo: " + turn.prompt.content[0]["text"])
            await asyncio.sleep(0)
            yield Finish(
                "stop",
                message=Message("assistant", [{"type": "text", "text": "echo: " + turn.prompt.content[0]["text"]}]),
            )
        finally:
            self.running -= 1
            self.log.append("engine closed")

    def end_conversation(self, conversation_id: str) -> None:
        self.ended.append(conversation_id)

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo("sonnet", "Sonnet")]

    def resolve_model(self, name: str) -> str | None:
        return name

    def known_models(self) -> set[str]:
        return {"sonnet"}

    async def auth_status(self) -> dict[str, Any]:
        return {}

    async def count_tokens(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        return 1, "estimate"

    def close_idle_processes(self) -> int:
        return 0

    def stats(self) -> dict[str, Any]:
        return {}

    async def start(self) -> None: ...

    async def close(self) -> None: ...


async def until_running(engine: GatedEngine) -> None:
    """Until a turn has reached the engine (its session exists and is busy): a fixed sleep is
    too short on a loaded machine."""
    for _ in range(500):
        if engine.running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no turn reached the engine")


def client_for(engine: GatedEngine, **settings: Any) -> tuple[httpx.AsyncClient, Any]:
    app = create_app(Settings(_env_file=None, **settings), engine)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=30), app


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def test_a_free_session_is_taken_even_when_busy_wait_is_zero():
    client, _ = client_for(GatedEngine(), session_busy_wait=0)
    for text in ("one", "two"):
        response = await client.post(
            "/v1/chat/completions", json={"model": "sonnet", "messages": [user(text)], "session_id": "s"}
        )
        assert response.status_code == 200, response.text


async def test_a_busy_session_answers_409_after_the_wait():
    engine = GatedEngine()
    client, _ = client_for(engine, session_busy_wait=0.2)
    engine.gate.clear()
    body = {"model": "sonnet", "messages": [user("one")], "session_id": "s"}
    first = asyncio.create_task(client.post("/v1/chat/completions", json=body))
    await until_running(engine)
    second = await client.post("/v1/chat/completions", json=body)
    assert second.status_code == 409 and second.json()["error"]["code"] == "session_busy"
    engine.gate.set()
    assert (await first).status_code == 200
    third = await client.post("/v1/chat/completions", json=body)  # the lock was not left taken
    assert third.status_code == 200


async def test_twenty_concurrent_continuations_of_one_history_take_it_once():
    engine = GatedEngine()
    client, app = client_for(engine, session_busy_wait=5)
    first = await client.post("/v1/chat/completions", json={"model": "sonnet", "messages": [user("hi")]})
    original = first.headers["x-session-id"]
    history = [user("hi"), {"role": "assistant", "content": "echo: hi"}]
    responses = await asyncio.gather(
        *(
            client.post("/v1/chat/completions", json={"model": "sonnet", "messages": [*history, user(f"q{i}")]})
            for i in range(20)
        )
    )
    assert all(r.status_code == 200 for r in responses)
    ids = [r.headers["x-session-id"] for r in responses]
    assert ids.count(original) == 1  # one request continued it; the others started their own
    registry = app.state.gateway.sessions.registry
    for session in registry.list("anonymous"):  # every history is whole and its chain matches it
        assert session.hashes == chain(session.messages)
        assert [m.role for m in session.messages] == ["user", "assistant"] * (len(session.messages) // 2)
    assert len(registry.get("anonymous", original).messages) == 4


async def test_delete_during_a_turn_does_not_bring_the_session_back():
    engine = GatedEngine()
    client, app = client_for(engine)
    engine.gate.clear()
    turn = asyncio.create_task(
        client.post("/v1/chat/completions", json={"model": "sonnet", "messages": [user("one")], "session_id": "doomed"})
    )
    await until_running(engine)
    uid = app.state.gateway.sessions.registry.get("anonymous", "doomed").uid
    assert (await client.delete("/v1/sessions/doomed")).status_code == 200
    assert (await client.get("/v1/sessions/doomed")).status_code == 404
    assert uid not in engine.ended  # its engine side ends when the turn lets go, not under it
    engine.gate.set()
    assert (await turn).status_code == 200
    assert (await client.get("/v1/sessions/doomed")).status_code == 404
    assert uid in engine.ended
    again = await client.post(
        "/v1/chat/completions", json={"model": "sonnet", "messages": [user("two")], "session_id": "doomed"}
    )
    assert again.status_code == 200  # the name starts a new session
    assert app.state.gateway.sessions.registry.get("anonymous", "doomed").turns == 1


async def test_the_engine_stream_is_closed_before_the_session_is_released():
    engine = GatedEngine()
    registry = SessionRegistry(3600, on_end=engine.end_conversation)
    service = SessionService(registry, engine, 1)  # type: ignore[arg-type]
    real_release = registry.release
    registry.release = lambda session: (engine.log.append("released"), real_release(session))  # type: ignore[method-assign]
    turn = Turn("sonnet", [Message("user", [{"type": "text", "text": "hi"}])])
    events = service.turn(turn, "s").events()
    await events.__anext__()  # the first delta: the turn is running
    await events.aclose()  # the client left
    assert engine.log == ["engine closed", "released"]


def test_a_reused_stateless_id_with_another_model_leaves_no_stale_continuation():
    registry = SessionRegistry(3600, on_end=lambda uid: None)
    session = registry.create("t", "sonnet", None)
    first = [Message("user", [{"type": "text", "text": "hi"}]), Message("assistant", [{"type": "text", "text": "yo"}])]
    registry.record_turn(session, first)
    session.model = "opus"  # the same session, continued by name with another model
    registry.record_turn(
        session,
        [Message("user", [{"type": "text", "text": "more"}]), Message("assistant", [{"type": "text", "text": "ok"}])],
    )
    branch = [*first, Message("user", [{"type": "text", "text": "a branch"}])]
    assert registry.continuation("t", "sonnet", None, branch) is None


def test_sessions_per_key_are_bounded_stateless_ones_make_room_first():
    ended: list[str] = []
    registry = SessionRegistry(3600, on_end=ended.append, max_per_tenant=3)
    stateless = registry.create("t", "sonnet", None)
    registry.create("t", "sonnet", None, "named-1")
    registry.create("t", "sonnet", None, "named-2")
    registry.create("t", "sonnet", None, "named-3")  # the stateless one makes room
    assert ended == [stateless.uid]
    with pytest.raises(Exception) as refused:
        registry.create("t", "sonnet", None, "named-4")
    assert getattr(refused.value, "status", None) == 429 and refused.value.code == "too_many_sessions"  # type: ignore[attr-defined]
    registry.create("other-key", "sonnet", None, "named-1")  # another key's room is its own


async def test_too_many_sessions_is_429_in_the_doors_envelope():
    client, _ = client_for(GatedEngine(), max_sessions_per_key=1)
    body = {"model": "sonnet", "max_tokens": 10, "messages": [user("hi")]}
    assert (await client.post("/v1/messages", json={**body, "session_id": "a"})).status_code == 200
    refused = await client.post("/v1/messages", json={**body, "session_id": "b"})
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error"


async def test_stored_responses_in_memory_are_bounded_by_bytes():
    store = ResponseStore(3600, max_items=1000, max_bytes=50_000)  # no store behind it
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x" * 20_000}}
    big = Pointer(("t", "s"), "uid", 1, "digest", {0: Message("user", [image])})  # the image bytes it keeps
    for i in range(5):
        store.put(f"r{i}", StoredResponse("t", {"id": f"r{i}"}, big, None), None, [])
    assert store.bytes <= 50_000
    with pytest.raises(GatewayError):
        await store.get("t", "r0")  # the oldest went first
    assert await store.get("t", "r4") == {"id": "r4"}
