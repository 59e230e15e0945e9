"""What Claude Code sends /v1/messages as a client (tests/e2e/test_claude_code_client_e2e.py runs
the real one): `role: "system"` messages, its session id in `metadata.user_id` (one gateway session
per Claude Code session, within the key's tenant), and `anthropic-beta` features."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from tests.api.test_replicas import replica

KEYS = "cc-key-one,cc-key-two"


def auth(key: str = "cc-key-one", **headers: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": "2023-06-01", **headers}


def claude_code_user(session: str) -> str:
    """metadata.user_id as Claude Code 2.1.329 sends it."""
    return json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session})


def body(messages: list[dict[str, Any]], user_id: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"model": "sonnet", "max_tokens": 100, "messages": messages}
    if user_id is not None:
        found["metadata"] = {"user_id": user_id}
    return found


def environment(text: str = "# Environment\nPrimary working directory: /somewhere") -> dict[str, Any]:
    return {"role": "system", "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]}


def answer_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["content"][0]["text"])


async def test_a_system_message_in_messages_joins_the_system_prompt(gateway):
    client, _, _ = await gateway()
    messages = [{"role": "user", "content": "[[system]]"}, environment()]
    request = {**body(messages), "system": [{"type": "text", "text": "You are terse."}]}
    text = answer_text(await client.post("/v1/messages", json=request))
    assert text == "system: You are terse.\n\n# Environment\nPrimary working directory: /somewhere"


async def test_a_system_message_of_plain_text_and_one_of_an_image_refused(gateway):
    client, _, _ = await gateway()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "[[system]]"}]
    assert answer_text(await client.post("/v1/messages", json=body(messages))) == "system: Be brief."
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    refused = await client.post(
        "/v1/messages", json=body([{"role": "system", "content": [image]}, {"role": "user", "content": "hi"}])
    )
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "only text" in error["error"]["message"]


async def test_one_claude_code_session_is_one_gateway_session_within_its_tenant(gateway):
    client, _, _ = await gateway(api_keys=KEYS)
    session = str(uuid.uuid4())
    first = [environment(), {"role": "user", "content": "hello"}]
    r1 = await client.post("/v1/messages", json=body(first, claude_code_user(session)), headers=auth())
    assert answer_text(r1) == "echo: hello"
    assert r1.headers["x-session-id"] == f"claude-code-{session}"
    second = [*first, {"role": "assistant", "content": "echo: hello"}, {"role": "user", "content": "[[turns]]"}]
    r2 = await client.post("/v1/messages", json=body(second, claude_code_user(session)), headers=auth())
    assert r2.headers["x-session-id"] == f"claude-code-{session}"
    assert answer_text(r2) == "turns: 2"  # the same Claude conversation went on

    # Another key's client with the same Claude Code session id: a session of its own tenant.
    other = await client.post(
        "/v1/messages",
        json=body([{"role": "user", "content": "[[turns]]"}], {"session_id": session}),  # the object as is
        headers=auth("cc-key-two"),
    )
    assert answer_text(other) == "turns: 1"
    assert other.headers["x-session-id"] == f"claude-code-{session}"
    mine = (await client.get(f"/v1/sessions/claude-code-{session}", headers=auth())).json()
    theirs = (await client.get(f"/v1/sessions/claude-code-{session}", headers=auth("cc-key-two"))).json()
    assert mine["turns"] == 2 and theirs["turns"] == 1, (mine, theirs)
    assert mine["user"] == "d" * 64 and theirs["user"] is None  # its device (no account); none named
    listed = (await client.get("/v1/sessions", headers=auth())).json()["data"]
    assert [s["id"] for s in listed] == [f"claude-code-{session}"]


async def test_a_history_that_does_not_go_on_from_the_keyed_session_gets_its_own(gateway):
    """A side request under the same Claude Code session id (another conversation) is no merge."""
    client, _, _ = await gateway(api_keys=KEYS)
    session = str(uuid.uuid4())
    user_id = claude_code_user(session)
    first = await client.post("/v1/messages", json=body([{"role": "user", "content": "a"}], user_id), headers=auth())
    assert first.headers["x-session-id"] == f"claude-code-{session}"
    side = [{"role": "user", "content": "b"}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "c"}]
    other = await client.post("/v1/messages", json=body(side, user_id), headers=auth())
    assert other.status_code == 200, other.text
    assert other.headers["x-session-id"].startswith("sess_")
    # The keyed session is as it was, and goes on with its own history.
    again = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "echo: a"}]
    again.append({"role": "user", "content": "[[turns]]"})
    third = await client.post("/v1/messages", json=body(again, user_id), headers=auth())
    assert third.headers["x-session-id"] == f"claude-code-{session}" and answer_text(third) == "turns: 2"


async def test_other_user_ids_keep_their_meaning_and_key_nothing(gateway):
    client, _, _ = await gateway(api_keys=KEYS)
    for user_id in ("user-42", '{"no_session": 1}', json.dumps({"session_id": "bad id with spaces"})):
        response = await client.post(
            "/v1/messages", json=body([{"role": "user", "content": "hi"}], user_id), headers=auth()
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-session-id"].startswith("sess_"), user_id
        found = (await client.get(f"/v1/sessions/{response.headers['x-session-id']}", headers=auth())).json()
        assert found["user"] == user_id, found


async def test_unapplied_beta_features_and_context_management_are_named(gateway):
    client, _, _ = await gateway()
    betas = "claude-code-20250219,context-management-2025-06-27,mcp-client-2025-04-04,effort-2025-11-24"
    request = {**body([{"role": "user", "content": "hi"}]), "context_management": {"edits": []}}
    response = await client.post("/v1/messages", json=request, headers={"anthropic-beta": betas})
    assert response.status_code == 200, response.text
    named = response.headers["x-gateway-ignored-params"].split(",")
    assert "context_management" in named
    assert "anthropic-beta[context-management-2025-06-27]" in named and "anthropic-beta[effort-2025-11-24]" in named
    assert not any("mcp-client" in name or "claude-code-2025" in name for name in named), named


async def test_output_config_effort_is_applied_and_a_wrong_one_refused(gateway):
    client, _, _ = await gateway()
    config = {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}}
    response = await client.post(
        "/v1/messages", json={**body([{"role": "user", "content": "hi"}]), "output_config": config}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-ignored-params"] == "output_config.format"
    wrong = {**body([{"role": "user", "content": "hi"}]), "output_config": {"effort": "extreme"}}
    refused = await client.post("/v1/messages", json=wrong)
    assert refused.status_code == 400 and "output_config.effort" in refused.json()["error"]["message"], refused.text


async def test_a_claude_code_session_alternating_replicas_is_one_session(redis_url):
    """Two replicas sharing Redis: the keyed session goes on at the other one, one conversation."""
    (a, engine_a), (b, engine_b) = replica(redis_url=redis_url), replica(redis_url=redis_url)
    session = str(uuid.uuid4())
    history: list[dict[str, Any]] = [environment()]
    ids = set()
    for i, (client, engine) in enumerate([(a, engine_a), (b, engine_b), (a, engine_a)]):
        history.append({"role": "user", "content": f"turn {i}"})
        response = await client.post("/v1/messages", json=body(history, claude_code_user(session)))
        assert response.headers["x-session-id"] == f"claude-code-{session}"
        history.append({"role": "assistant", "content": answer_text(response)})
        ids.add(engine.turns[-1].conversation_id)
    assert len(ids) == 1
    listed = (await b.get("/v1/sessions")).json()["data"]
    assert [(s["id"], s["turns"]) for s in listed] == [(f"claude-code-{session}", 3)]


async def test_a_request_while_the_keyed_session_is_busy_is_no_409(gateway):
    """Two requests of one Claude Code session at once (a subagent's beside the main loop): the
    second is matched as any stateless request instead of waiting for a 409."""
    client, _, _ = await gateway(session_busy_wait="2")
    user_id = claude_code_user(str(uuid.uuid4()))
    slow = [{"role": "user", "content": "[[slow]] " + "x" * 200}]  # about 5 s of streamed chunks
    first = asyncio.create_task(client.post("/v1/messages", json=body(slow, user_id)))
    await asyncio.sleep(1)
    started = time.monotonic()
    second = await client.post("/v1/messages", json=body([{"role": "user", "content": "aside"}], user_id))
    assert answer_text(second) == "echo: aside" and second.headers["x-session-id"].startswith("sess_")
    assert time.monotonic() - started < 2
    assert (await first).headers["x-session-id"].startswith("claude-code-")
