"""Agent sessions across two replicas on one real redis-server, with the real CLI: the next turn
goes on at the other replica with Claude Code's own transcript (its tool calls and their results,
which the gateway's history of the session does not hold), mirrored to Redis and resumed there."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.e2e.conftest import serve
from tests.e2e.test_agent_e2e import chat, tool
from tests.fakes.upstream import Reply, last_user_text

pytestmark = pytest.mark.e2e

EDITS = {"permission_mode": "acceptEdits"}


@pytest.fixture(scope="module")
def agent_pair(upstream, cli_config_dir, tmp_path_factory, redis_server):
    settings = {"agent_mode": "true", "redis_url": redis_server.url, "session_busy_wait": "15"}
    servers = [serve(upstream, cli_config_dir, tmp_path_factory, name, **settings) for name in ("agent-a", "agent-b")]
    a, b = (next(server) for server in servers)
    yield a, b
    for server in servers:
        next(server, None)
    redis_server.flush()  # the next module's replicas start from an empty Redis


def asked(fake, prompt: str) -> dict[str, Any]:
    """The last model call that carries `prompt` as the user's last text (not a call the CLI
    makes on its own after a turn, such as one of the other replica's)."""
    calls = [body for body in fake.requests if last_user_text(body) == prompt]
    assert calls, f"no model call asked {prompt!r}"
    return calls[-1]


def blocks(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The content blocks of one kind in a model call's messages."""
    return [
        block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == kind
    ]


def bash_call(body: dict[str, Any], marker: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The Bash tool_use whose command holds `marker`, and its tool_result, if the call has both."""
    for use in blocks(body, "tool_use"):
        if use["name"] == "Bash" and marker in use["input"].get("command", ""):
            results = [r for r in blocks(body, "tool_result") if r["tool_use_id"] == use["id"]]
            return (use, results[0]) if results else None
    return None


def test_an_agent_session_goes_on_at_the_other_replica_with_claude_codes_own_transcript(agent_pair, fake):
    a, b = agent_pair
    command = tool("Bash", command="echo ran-on-$((6 * 7))-replica-a", description="probe")
    first = chat(a, command, EDITS, session="e2e-agent-moves")
    assert first.status_code == 200, first.text
    assert "ran-on-42-replica-a" in first.json()["choices"][0]["message"]["content"]

    second = chat(b, "What did the command print?", EDITS, session="e2e-agent-moves")
    assert second.status_code == 200, second.text
    call = bash_call(asked(fake, "What did the command print?"), "ran-on-")
    assert call is not None, "replica B's CLI did not get replica A's Bash call and its result"
    use, result = call
    assert "ran-on-42-replica-a" in str(result["content"])

    # Back on A, whose own process missed B's turn: the transcript B's CLI went on with.
    third = chat(a, "And once more?", EDITS, session="e2e-agent-moves")
    assert third.status_code == 200, third.text
    body = asked(fake, "And once more?")
    assert bash_call(body, "ran-on-") is not None
    assert "What did the command print?" in str(body["messages"])


def test_without_a_transcript_in_redis_the_other_replica_rebuilds_from_the_history(agent_pair, fake, redis_server):
    a, b = agent_pair
    command = tool("Bash", command="echo lost-$((6 * 7))", description="probe")
    assert chat(a, command, EDITS, session="e2e-agent-history-only").status_code == 200
    shared = redis.Redis.from_url(redis_server.url)
    gone = shared.keys("claude-gateway:transcript*")
    assert gone, "replica A mirrored nothing to Redis"
    shared.delete(*gone)

    answer = chat(b, "Still there?", EDITS, session="e2e-agent-history-only")
    assert answer.status_code == 200, answer.text
    body = asked(fake, "Still there?")
    assert bash_call(body, "lost-") is None  # the text history only: Claude Code's calls are gone
    assert "results: lost-42" in str(body["messages"])  # A's answer, as the session's history has it

    # Back on A: the transcript B rebuilt from the history went to Redis whole, not only B's own turn.
    again = chat(a, "And now?", EDITS, session="e2e-agent-history-only")
    assert again.status_code == 200, again.text
    seen = str(asked(fake, "And now?")["messages"])
    assert "results: lost-42" in seen and "Still there?" in seen


def test_a_turn_that_failed_on_one_replica_is_not_resumed_on_the_other(agent_pair, fake):
    a, b = agent_pair
    command = tool("Bash", command="echo kept-$((6 * 7))", description="probe")
    assert chat(a, command, EDITS, session="e2e-agent-failed-turn").status_code == 200
    fake.enqueue(Reply(status=500))
    failed = chat(a, "This turn fails upstream.", EDITS, session="e2e-agent-failed-turn")
    assert failed.status_code >= 500, failed.text

    answer = chat(b, "After the failure.", EDITS, session="e2e-agent-failed-turn")
    assert answer.status_code == 200, answer.text
    body = asked(fake, "After the failure.")
    assert bash_call(body, "kept-") is not None
    assert "This turn fails upstream." not in str(body["messages"])  # the session never had it
