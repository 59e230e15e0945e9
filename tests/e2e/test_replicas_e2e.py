"""Two gateway processes sharing one real redis-server, each with the real CLI on the fake upstream,
as two replicas behind a load balancer: a conversation goes on at whichever replica gets its next
request, with its whole history reaching Claude, even after the replica that ran it was killed."""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest
from openai import OpenAI

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply
from tests.support import conversation, texts, wait_until

pytestmark = pytest.mark.e2e

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
ADMIN_KEY = "e2e-replicas-admin-0123456789abcdef"


@pytest.fixture(scope="module")
def pair(upstream, cli_config_dir, tmp_path_factory, redis_server):
    settings = {"redis_url": redis_server.url, "session_busy_wait": "15", "admin_key": ADMIN_KEY}
    servers = [
        serve(upstream, cli_config_dir, tmp_path_factory, name, **settings) for name in ("replica-a", "replica-b")
    ]
    a, b = (next(server) for server in servers)
    yield a, b
    for server in servers:
        next(server, None)


def client(server) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)


def ask(server, text: str, session_id: str | None = None, history: list | None = None) -> str:
    extra = {"session_id": session_id} if session_id else None
    messages = [*(history or []), {"role": "user", "content": text}]
    answer = client(server).chat.completions.create(model="sonnet", messages=messages, extra_body=extra)
    return answer.choices[0].message.content or ""


def received(fake) -> list[tuple[str, str]]:
    """The conversation the model got on its last call."""
    return texts(conversation(fake.requests[-1]))


def test_a_conversation_started_on_one_replica_goes_on_at_the_other(pair, fake):
    a, b = pair
    ask(a, "My name is Ann.", "e2e-r1")
    ask(a, "I live in Oslo.", "e2e-r1")
    assert ask(b, "Where do I live?", "e2e-r1") == "echo: Where do I live?"
    assert received(fake) == [
        ("user", "My name is Ann."),
        ("assistant", "echo: My name is Ann."),
        ("user", "I live in Oslo."),
        ("assistant", "echo: I live in Oslo."),
        ("user", "Where do I live?"),
    ]
    ask(a, "And my name?", "e2e-r1")  # back on A, whose own process missed B's turn
    assert [text for role, text in received(fake) if role == "user"] == [
        "My name is Ann.",
        "I live in Oslo.",
        "Where do I live?",
        "And my name?",
    ]
    session = httpx.get(f"{b.url}/v1/sessions/e2e-r1", headers=HEADERS).json()
    assert session["turns"] == 4 and session["message_count"] == 8


def test_a_stateless_client_alternating_replicas_never_starts_over(pair, fake):
    a, b = pair
    history: list[dict] = []
    for i, server in enumerate([a, b, a, b]):
        text = f"stateless turn {i}"
        history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": ask(server, text, None, history)},
        ]
        assert len(received(fake)) == 2 * i + 1  # the model got every earlier turn, once
    sessions = httpx.get(f"{a.url}/v1/sessions", headers=HEADERS).json()["data"]
    stateless = [s for s in sessions if not s["id"].startswith("e2e-")]
    assert [s["turns"] for s in stateless] == [4]  # one session, continued, never a new one


def test_a_delete_on_one_replica_is_seen_by_the_other(pair, fake):
    a, b = pair
    ask(a, "Remember the word kiwi.", "e2e-r3")
    assert httpx.delete(f"{b.url}/v1/sessions/e2e-r3", headers=HEADERS).status_code == 200
    assert httpx.get(f"{a.url}/v1/sessions/e2e-r3", headers=HEADERS).status_code == 404
    ask(a, "Which word?", "e2e-r3")
    assert received(fake) == [("user", "Which word?")]  # a new conversation of that name


def test_two_concurrent_turns_on_one_session_through_both_replicas_take_turns(pair, fake):
    a, b = pair
    ask(a, "Start.", "e2e-r4")
    fake.enqueue(Reply(text="slow answer " * 10, delay=0.05), Reply(text="second answer"))
    answers: dict[str, str] = {}
    first = threading.Thread(target=lambda: answers.update(a=ask(a, "first", "e2e-r4")))
    first.start()
    assert wait_until(lambda: len(fake.requests) >= 2, timeout=30)
    answers["b"] = ask(b, "second", "e2e-r4")  # waits for A's turn to end
    first.join(timeout=60)
    assert answers == {"a": "slow answer " * 10, "b": "second answer"}
    assert [text for role, text in received(fake) if role == "user"] == ["Start.", "first", "second"]
    assert "slow answer" in received(fake)[-2][1]  # B's turn saw A's whole answer


def test_a_keys_rate_limit_holds_over_both_replicas(pair, fake):
    a, b = pair
    made = httpx.post(
        f"{a.url}/admin/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, json={"name": "r", "rpm": 3}
    )
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "count me"}]}
    statuses = [httpx.post(f"{s.url}/v1/chat/completions", headers=key, json=body, timeout=60) for s in (a, b, a, b)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    refused = statuses[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) > 0 and refused.headers["x-ratelimit-remaining-requests"] == "0"
    usage = httpx.get(f"{b.url}/v1/usage", headers=key).json()  # the ledger is shared too
    assert usage["total"]["requests"] == 3


def test_a_stored_response_is_continued_and_read_on_the_other_replica(pair, fake):
    a, b = pair
    first = client(a).responses.create(model="sonnet", input="My name is Ann.")
    second = client(b).responses.create(model="sonnet", input="What is my name?", previous_response_id=first.id)
    assert second.output_text == "echo: What is my name?"
    assert received(fake) == [
        ("user", "My name is Ann."),
        ("assistant", "echo: My name is Ann."),
        ("user", "What is my name?"),
    ]
    assert client(a).responses.retrieve(second.id).output_text == "echo: What is my name?"


def test_after_a_replica_is_killed_mid_turn_the_other_goes_on_from_redis(
    upstream, cli_config_dir, tmp_path_factory, redis_server, fake
):
    settings = {"redis_url": redis_server.url, "session_busy_wait": "15"}
    doomed = serve(upstream, cli_config_dir, tmp_path_factory, "replica-killed", **settings)
    survivor = serve(upstream, cli_config_dir, tmp_path_factory, "replica-survivor", **settings)
    a, b = next(doomed), next(survivor)
    try:
        ask(a, "My name is Ann.", "e2e-r5")
        fake.enqueue(Reply(text="never finished " * 200, delay=0.05))
        body = {
            "model": "sonnet",
            "stream": True,
            "session_id": "e2e-r5",
            "messages": [{"role": "user", "content": "Tell a long story."}],
        }
        with httpx.stream("POST", f"{a.url}/v1/chat/completions", headers=HEADERS, json=body, timeout=60) as stream:
            lines = stream.iter_lines()
            assert any(line.startswith("data: {") and '"content":"' in line for line in lines)
            os.kill(a.process.pid, signal.SIGKILL)  # mid-turn, holding the session's lock
            a.process.wait(timeout=10)
        # B waits out the dead replica's lock (a lease of 10 s), then goes on from what Redis holds:
        # the finished turn, not the one cut short.
        assert ask(b, "What is my name?", "e2e-r5") == "echo: What is my name?"
        assert received(fake) == [
            ("user", "My name is Ann."),
            ("assistant", "echo: My name is Ann."),
            ("user", "What is my name?"),
        ]
    finally:
        next(doomed, None)
        next(survivor, None)
