"""The session registry: ownership, expiry, and which history continues which conversation."""

from __future__ import annotations

import pytest

from app.core.errors import GatewayError
from app.core.messages import Message
from app.sessions.registry import SessionRegistry


def u(text):
    return Message("user", [{"type": "text", "text": text}])


def a(text):
    return Message("assistant", [{"type": "text", "text": text}])


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def registry():
    ended = []
    clock = Clock()
    reg = SessionRegistry(ttl=60, on_end=ended.append, clock=clock)
    reg.ended, reg.clock = ended, clock
    return reg


def served(registry, tenant="t", *messages, name=None, system=None):
    session = registry.create(tenant, "sonnet", system, name)
    registry.record_turn(session, list(messages))
    return session


def test_a_stateless_history_continues_the_conversation_it_extends(registry):
    session = served(registry, "t", u("hi"), a("hello"))
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("more")]) is session


@pytest.mark.parametrize(
    "tenant, model, system, messages",
    [
        ("other", "sonnet", None, [u("hi"), a("hello"), u("more")]),  # another tenant
        ("t", "opus", None, [u("hi"), a("hello"), u("more")]),  # another model
        ("t", "sonnet", "be terse", [u("hi"), a("hello"), u("more")]),  # another system prompt
        ("t", "sonnet", None, [u("HI"), a("hello"), u("more")]),  # an edited message
        ("t", "sonnet", None, [u("hi"), a("hello!"), u("more")]),  # an answer the gateway did not give
        ("t", "sonnet", None, [u("hi"), u("more")]),  # no answer at all
    ],
)
def test_what_does_not_continue(registry, tenant, model, system, messages):
    served(registry, "t", u("hi"), a("hello"))
    assert registry.continuation(tenant, model, system, messages) is None


def test_named_sessions_are_not_continued_by_stateless_requests(registry):
    served(registry, "t", u("hi"), a("hello"), name="named")
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("more")]) is None


def test_identical_conversations_keep_their_own_continuations(registry):
    first = served(registry, "t", u("hi"), a("hello"))
    second = served(registry, "t", u("hi"), a("hello"))  # word for word the same so far
    registry.record_turn(second, [u("second goes on"), a("ok")])
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("more")]) is first


async def test_a_busy_conversation_is_not_continued(registry):
    session = served(registry, "t", u("hi"), a("hello"))
    await session.lock.acquire()  # as if in a turn
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("more")]) is None


def test_a_conversation_that_moved_on_is_continued_only_from_where_it_is(registry):
    session = served(registry, "t", u("hi"), a("hello"))
    registry.record_turn(session, [u("more"), a("sure")])
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("other branch")]) is None
    assert registry.continuation("t", "sonnet", None, [u("hi"), a("hello"), u("more"), a("sure"), u("go")]) is session


def test_sessions_are_per_tenant_and_expire(registry):
    mine = registry.create("t", "sonnet", None, "name")
    theirs = registry.create("other", "sonnet", None, "name")
    assert mine is not theirs
    assert registry.get("t", "name") is mine
    with pytest.raises(GatewayError) as caught:
        registry.get("nobody", "name")
    assert caught.value.status == 404
    registry.clock.now += 61
    assert registry.expire() == 2
    assert set(registry.ended) == {mine.uid, theirs.uid}
    with pytest.raises(GatewayError):
        registry.get("t", "name")


async def test_a_session_in_a_turn_does_not_expire_under_it(registry):
    session = registry.create("t", "sonnet", None, "busy")
    await session.lock.acquire()
    registry.clock.now += 61
    assert registry.expire() == 0


# --- pointers into a session (what a stored response keeps) -----------------------------------
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def pointed(registry, name, *messages):
    """A session that served `messages`, and a pointer to that conversation."""
    session = served(registry, "t", *messages, name=name)
    return session, registry.pointer(session, list(messages))


def grown(registry, session):
    registry.record_turn(session, [u("later"), a("still here")])


def deleted(registry, session):
    registry.delete("t", session.id)


def renamed(registry, session):
    deleted(registry, session)
    registry.create("t", "sonnet", None, session.id)  # a new session of the same name


def expired(registry, session):
    registry.clock.now += 61


@pytest.mark.parametrize("name", ["named", None])
@pytest.mark.parametrize(
    "then, holds",
    [
        pytest.param(lambda registry, session: None, True, id="as served"),
        pytest.param(grown, True, id="the session grew: the conversation up to there"),
        pytest.param(deleted, False, id="the session was deleted"),
        pytest.param(renamed, False, id="another session of the same name"),
        pytest.param(expired, False, id="the session expired"),
    ],
)
def test_a_pointer_names_the_conversation_while_its_session_lives(registry, name, then, holds):
    conversation = [Message("user", [IMAGE, {"type": "text", "text": "what is it?"}]), a("a picture")]
    session, pointer = pointed(registry, name, *conversation)
    then(registry, session)
    assert registry.conversation(pointer) == (conversation if holds else None)  # image bytes included


def test_a_stateless_session_keeps_no_image_bytes_its_pointer_keeps_them(registry):
    conversation = [Message("user", [IMAGE, {"type": "text", "text": "what is it?"}]), a("a picture")]
    session, pointer = pointed(registry, None, *conversation)
    assert "iVBORw0KGgo=" not in str(session.messages)
    assert pointer.images == {0: conversation[0]}  # the one message the session keeps without them
