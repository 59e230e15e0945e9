"""The session service: which session a turn enters, what the engine is given, and what is
recorded. A recording engine stands in for Claude; the registry is the real one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from app.core.errors import GatewayError
from app.core.events import Event, Finish, TextDelta
from app.core.messages import Message, extend_hash
from app.core.turn import Turn
from app.sessions.registry import SessionRegistry
from app.sessions.service import SessionService


def u(text: str) -> Message:
    return Message("user", [{"type": "text", "text": text}])


def a(text: str) -> Message:
    return Message("assistant", [{"type": "text", "text": text}])


def echo(turn: Turn) -> list[Event | Exception]:
    """Claude's answer: the last user text, echoed."""
    answer = "echo: " + turn.prompt.content[0].get("text", "")
    return [TextDelta(answer), Finish("stop", message=a(answer))]


def calls(*ids: str) -> Callable[[Turn], list[Event | Exception]]:
    """Claude calls a tool for each id."""
    uses = [{"type": "tool_use", "id": i, "name": "f", "input": {}} for i in ids]
    return lambda turn: [Finish("tool_use", message=Message("assistant", uses))]


def result(call_id: str) -> Message:
    return Message("user", [{"type": "tool_result", "tool_use_id": call_id, "content": "done"}])


class Engine:
    """Records every turn it is given and answers with `script(turn)` (an exception is raised)."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.script: Callable[[Turn], list[Event | Exception]] = echo

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        self.turns.append(turn)
        for item in self.script(turn):
            if isinstance(item, Exception):
                raise item
            yield item


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
def service(engine: Engine) -> SessionService:
    ended: list[str] = []
    registry = SessionRegistry(ttl=60, on_end=ended.append)
    registry.ended = ended  # type: ignore[attr-defined]
    return SessionService(registry, engine, busy_wait=0)  # type: ignore[arg-type]


def turn(*messages: Message) -> Turn:
    return Turn("sonnet", list(messages), tenant="t")


async def run(service: SessionService, name: str | None, *messages: Message) -> tuple[str | None, list[Event]]:
    """One whole turn; the session it ran in, and its events."""
    session_turn = service.turn(turn(*messages), name)
    events = [event async for event in session_turn.events()]
    return session_turn.session_id, events


# --- which session a turn enters --------------------------------------------------------------
HI, MORE = (u("hi"), a("echo: hi")), u("more")


@pytest.mark.parametrize(
    "requests, conversations",
    [
        pytest.param(
            [("s", [u("hi")]), ("s", [MORE])],
            [0, 0],
            id="named: the session holds the history",
        ),
        pytest.param(
            [(None, [u("hi")]), (None, [*HI, MORE])],
            [0, 0],
            id="stateless: a history that extends a served one continues it",
        ),
        pytest.param(
            [(None, [u("hi")]), (None, [*HI, MORE]), (None, [*HI, u("other")])],
            [0, 0, 1],
            id="stateless: a branch from an older point is a session of its own",
        ),
        pytest.param(
            [(None, [u("hi")]), (None, [u("hi"), a("not what was said"), MORE])],
            [0, 1],
            id="stateless: an answer the gateway did not give continues nothing",
        ),
        pytest.param(
            [("s", [u("hi")]), (None, [*HI, MORE])],
            [0, 1],
            id="a named session is never continued statelessly",
        ),
    ],
)
async def test_which_session_a_turn_enters(service, engine, requests, conversations):
    """`conversations`: which of the conversations so far (by order of appearance) each turn ran in."""
    for name, messages in requests:
        session_id, _ = await run(service, name, *messages)
        assert session_id == name if name else session_id.startswith("sess_")  # a stateless one is named for it
    uids = [t.conversation_id for t in engine.turns]
    assert [uids.index(uid) for uid in uids] == [conversations.index(c) for c in conversations]


async def test_a_named_session_gives_the_engine_the_whole_conversation(service, engine):
    await run(service, "s", u("hi"))
    await run(service, "s", MORE)
    assert engine.turns[1].messages == [*HI, MORE]


@pytest.mark.parametrize(
    "name, busy",
    [
        pytest.param("s", True, id="named: 409 while it is in a turn"),
        pytest.param(None, False, id="stateless: a busy conversation is not continued, a new one starts"),
    ],
)
async def test_a_session_in_a_turn(service, engine, name, busy):
    await run(service, name, u("hi"))
    first = service.turn(turn(*HI, MORE) if name is None else turn(MORE), name).events()
    await first.__anext__()  # the turn is running: its session is taken
    second = service.turn(turn(*HI, MORE) if name is None else turn(MORE), name)
    if busy:
        with pytest.raises(GatewayError) as caught:
            await second.events().__anext__()
        assert (caught.value.status, caught.value.code) == (409, "session_busy")
    else:
        assert [type(e) async for e in second.events()] == [TextDelta, Finish]
        assert engine.turns[2].conversation_id != engine.turns[1].conversation_id
    await first.aclose()


# --- what the engine is given -----------------------------------------------------------------
@pytest.mark.parametrize(
    "requests",
    [
        pytest.param([("s", [u("hi")])], id="a first turn: no history"),
        pytest.param([("s", [u("hi")]), ("s", [MORE])], id="named: the session's history"),
        pytest.param([(None, [u("hi")]), (None, [*HI, MORE])], id="stateless: the continued history"),
        pytest.param([(None, [u("hi"), a("earlier"), MORE])], id="stateless: a history never served"),
    ],
)
async def test_the_engine_gets_the_hash_of_the_history(service, engine, requests):
    for name, messages in requests:
        await run(service, name, *messages)
    for given in engine.turns:
        assert given.history_hash == extend_hash("", given.history)


# --- what is recorded -------------------------------------------------------------------------
def failing(turn: Turn) -> list[Event | Exception]:
    return [TextDelta("partial"), GatewayError(502, "Claude broke off.", "api_error")]


@pytest.mark.parametrize(
    "script, leave_early, recorded",
    [
        pytest.param(echo, False, True, id="a finished turn is recorded"),
        pytest.param(failing, False, False, id="a failed turn is not"),
        pytest.param(echo, True, False, id="nor one the client left before it finished"),
    ],
)
@pytest.mark.parametrize("name", ["s", None])
async def test_only_a_finished_turn_is_recorded(service, engine, script, leave_early, recorded, name):
    engine.script = script
    session_turn = service.turn(turn(u("hi")), name)
    events = session_turn.events()
    try:
        async for _ in events:
            if leave_early:
                break
    except GatewayError:
        pass
    finally:
        await events.aclose()
    registry = service.registry
    sessions = registry.list("t")
    if recorded:
        assert [(s.turns, s.messages) for s in sessions] == [(1, [u("hi"), a("echo: hi")])]
    elif name is not None:
        assert [(s.id, s.turns, s.messages) for s in sessions] == [("s", 0, [])]  # a name lives on, empty
    else:
        assert sessions == []  # a failed first stateless turn leaves nothing
        assert registry.ended == [engine.turns[0].conversation_id]  # type: ignore[attr-defined]
    assert all(not s.lock.locked() for s in sessions)


# --- tool results -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, answer, ok",
    [
        pytest.param("s", "call_1", True, id="named: the call is in the session's history"),
        pytest.param("s", "call_x", False, id="named: a result for no call"),
        pytest.param(None, "call_1", True, id="stateless: the call is in the resent history"),
        pytest.param(None, "call_x", False, id="stateless: a result for no call"),
    ],
)
async def test_a_tool_result_must_answer_a_call_before_it(service, engine, name, answer, ok):
    engine.script = calls("call_1")
    await run(service, name, u("use f"))
    engine.script = echo
    asked = Message("assistant", [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}])
    messages = [result(answer)] if name else [u("use f"), asked, result(answer)]
    if ok:
        _, events = await run(service, name, *messages)
        assert isinstance(events[-1], Finish)
    else:
        with pytest.raises(GatewayError) as caught:
            await run(service, name, *messages)
        assert (caught.value.status, caught.value.code) == (400, "orphan_tool_result")
        assert len(engine.turns) == 1  # refused before Claude was asked
        (session,) = service.registry.list("t")
        assert session.turns == 1 and not session.lock.locked()  # the session is as it was


# --- n > 1: one-off turns ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "messages, ok",
    [
        pytest.param([u("hi")], True, id="outside any session"),
        pytest.param([u("hi"), a("no call"), result("call_x")], False, id="with the same tool-result check"),
    ],
)
async def test_a_one_off_turn(service, engine, messages, ok):
    events = service.one_off(turn(*messages))
    if ok:
        assert [type(e) async for e in events] == [TextDelta, Finish]
        assert engine.turns[0].conversation_id is None
    else:
        with pytest.raises(GatewayError) as caught:
            await events.__anext__()
        assert caught.value.code == "orphan_tool_result" and engine.turns == []
    assert service.registry.list("t") == []
