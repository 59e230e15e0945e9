"""Conversations end to end: sessions, automatic continuation, warm processes, expiry."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.e2e.conftest import API_KEY, OTHER_KEY
from tests.fakes.upstream import Reply
from tests.support import conversation, texts, wait_until

pytestmark = pytest.mark.e2e


def chat(gateway, messages, key=API_KEY, session=None, **extra):
    """POST a completion; returns (response json, session id header)."""
    body = {"model": "sonnet", "messages": messages, **extra}
    if session:
        body["session_id"] = session
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    return response, response.headers.get("x-session-id")


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def processes(gateway, key=API_KEY):
    stats = httpx.get(f"{gateway.url}/v1/sessions/stats", headers={"x-api-key": key}).json()
    return stats["gateway"]["processes"]


def turn_spawns(gateway):
    """Processes the caller's conversations ran on (a keyed tenant's figures count no spare that
    started in the background until one of its conversations takes it)."""
    return processes(gateway)["spawned_total"]


def test_a_session_keeps_the_conversation_over_three_turns(gateway, fake):
    first, session = chat(
        gateway, [{"role": "system", "content": "Be brief."}, user("My name is Ann.")], session="trip-1"
    )
    assert first.status_code == 200 and session == "trip-1"
    chat(gateway, [user("I live in Oslo.")], session="trip-1")
    third, _ = chat(gateway, [user("Where do I live?")], session="trip-1")
    assert third.json()["choices"][0]["message"]["content"] == "echo: Where do I live?"
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "My name is Ann."),
        ("assistant", "echo: My name is Ann."),
        ("user", "I live in Oslo."),
        ("assistant", "echo: I live in Oslo."),
        ("user", "Where do I live?"),
    ]
    assert "Be brief." in " ".join(b["text"] for b in fake.requests[-1]["system"])  # kept from turn 1
    details = httpx.get(f"{gateway.url}/v1/sessions/trip-1", headers={"x-api-key": API_KEY}).json()
    assert details["turns"] == 3 and details["message_count"] == 6
    assert details["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "echo: My name is Ann."}],
    }


def test_the_session_id_header_works_too(gateway, fake):
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Session-Id": "by-header"}
    for text in ("one", "two"):
        response = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers=headers,
            timeout=60,
            json={"model": "sonnet", "messages": [user(text)]},
        )
        assert response.headers["x-session-id"] == "by-header"
    assert texts(conversation(fake.requests[-1])) == [("user", "one"), ("assistant", "echo: one"), ("user", "two")]


def test_stateless_history_continues_on_the_live_process(gateway, fake):
    history = [{"role": "system", "content": "stateless-test"}, user("Hi, I am Bo.")]
    first, session = chat(gateway, history)
    reply = first.json()["choices"][0]["message"]["content"]
    before = turn_spawns(gateway)
    second, same = chat(gateway, [*history, assistant(reply), user("Who am I?")])
    assert same == session  # the same conversation...
    assert turn_spawns(gateway) == before  # ...on the same process: nothing spawned for it
    # Claude received the conversation once, as it holds it: only the new message was added.
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "Hi, I am Bo."),
        ("assistant", reply),
        ("user", "Who am I?"),
    ]


def test_an_edited_history_starts_a_new_conversation(gateway, fake):
    history = [{"role": "system", "content": "branch-test"}, user("I like tea.")]
    first, session = chat(gateway, history)
    reply = first.json()["choices"][0]["message"]["content"]
    edited = [
        {"role": "system", "content": "branch-test"},
        user("I like coffee."),
        assistant(reply),
        user("What do I like?"),
    ]
    second, branched = chat(gateway, edited)
    assert second.status_code == 200 and branched != session
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "I like coffee."),
        ("assistant", reply),
        ("user", "What do I like?"),
    ]


def test_an_answer_the_gateway_did_not_give_does_not_continue(gateway, fake):
    history = [{"role": "system", "content": "graft-test"}, user("Hello")]
    _, session = chat(gateway, history)
    _, other = chat(gateway, [*history, assistant("something I made up"), user("and?")])
    assert other != session


def test_sessions_belong_to_their_tenant(gateway, fake):
    chat(gateway, [user("secret plans")], session="mine")
    other = {"x-api-key": OTHER_KEY}
    assert httpx.get(f"{gateway.url}/v1/sessions/mine", headers=other).status_code == 404
    assert httpx.delete(f"{gateway.url}/v1/sessions/mine", headers=other).status_code == 404
    assert "mine" not in [s["id"] for s in httpx.get(f"{gateway.url}/v1/sessions", headers=other).json()["data"]]
    # The same name under another key is another conversation, which knows nothing of the first.
    response, _ = chat(gateway, [user("what plans?")], key=OTHER_KEY, session="mine")
    assert texts(conversation(fake.requests[-1])) == [("user", "what plans?")]
    mine = httpx.get(f"{gateway.url}/v1/sessions", headers={"x-api-key": API_KEY}).json()["data"]
    assert "mine" in [s["id"] for s in mine]
    # Stateless continuation does not cross tenants either.
    first, session = chat(gateway, [user("tenant-a hello")])
    reply = first.json()["choices"][0]["message"]["content"]
    _, other_session = chat(gateway, [user("tenant-a hello"), assistant(reply), user("more")], key=OTHER_KEY)
    assert other_session != session


def test_delete_ends_the_session(gateway, fake):
    chat(gateway, [user("to be deleted")], session="gone-soon")
    deleted = httpx.delete(f"{gateway.url}/v1/sessions/gone-soon", headers={"x-api-key": API_KEY})
    assert deleted.json() == {"id": "gone-soon", "object": "session.deleted", "deleted": True}
    assert httpx.get(f"{gateway.url}/v1/sessions/gone-soon", headers={"x-api-key": API_KEY}).status_code == 404


def test_a_failed_turn_leaves_the_session_as_it_was(gateway, fake):
    chat(gateway, [user("first")], session="fragile")
    fake.enqueue(Reply(status=500))
    failed, _ = chat(gateway, [user("this one fails")], session="fragile")
    assert failed.status_code == 502
    chat(gateway, [user("third")], session="fragile")
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "first"),
        ("assistant", "echo: first"),
        ("user", "third"),
    ]
    details = httpx.get(f"{gateway.url}/v1/sessions/fragile", headers={"x-api-key": API_KEY}).json()
    assert details["turns"] == 2


def test_a_disconnect_in_a_session_drops_the_turn_and_its_process(gateway, fake):
    chat(gateway, [user("start")], session="cut")
    fake.enqueue(Reply(text="z" * 400, chunk_size=2, delay=0.05))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"x-api-key": API_KEY},
        timeout=60,
        json={"model": "sonnet", "stream": True, "session_id": "cut", "messages": [user("talk")]},
    ) as r:
        for line in r.iter_lines():
            if '"content":"zz"' in line:
                break
    assert wait_until(lambda: processes(gateway)["exiting"] == 0, timeout=6)
    chat(gateway, [user("after")], session="cut")
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "start"),
        ("assistant", "echo: start"),
        ("user", "after"),
    ]


def test_concurrent_requests_on_one_session_take_turns(gateway, fake):
    fake.enqueue(Reply(text="slow answer", chunk_size=1, delay=0.05))
    results = {}

    def run(name, text):
        results[name] = chat(gateway, [user(text)], session="queue")[0]

    first = threading.Thread(target=run, args=("first", "one"))
    first.start()
    time.sleep(0.3)
    run("second", "two")
    first.join()
    assert results["first"].status_code == 200 and results["second"].status_code == 200
    assert texts(conversation(fake.requests[-1])) == [("user", "one"), ("assistant", "slow answer"), ("user", "two")]


def test_a_session_busy_past_the_wait_is_409(brief_gateway, fake):
    fake.enqueue(Reply(text="a slow answer here", chunk_size=1, delay=0.1))
    thread = threading.Thread(target=chat, args=(brief_gateway, [user("one")]), kwargs={"session": "busy"})
    thread.start()
    time.sleep(0.5)
    response, _ = chat(brief_gateway, [user("two")], session="busy")
    thread.join()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_busy"


def test_expiry_ends_sessions_and_their_processes(brief_gateway, fake):
    response, session = chat(brief_gateway, [user("short-lived")], session="brief")
    assert response.status_code == 200
    assert brief_gateway.children(), "the conversation keeps a warm process"
    headers = {"x-api-key": API_KEY}
    assert wait_until(
        lambda: httpx.get(f"{brief_gateway.url}/v1/sessions/brief", headers=headers).status_code == 404, 10
    )
    assert wait_until(lambda: brief_gateway.children() == [], timeout=15), brief_gateway.children()
    assert processes(brief_gateway)["live"] == 0
