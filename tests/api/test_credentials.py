"""A caller's own Claude credential through the app: the X-Claude-Credential header on every door,
refused in the door's envelope when not allowed or malformed, never quoted back; sessions kept to
their credential; and, on the real engine with the fake CLI, a process of that credential alone."""

from __future__ import annotations

import json
import subprocess

import pytest

from app.core.credentials import Credential
from app.engine.processes.folders import CREDENTIALS_FOLDER
from tests.support import ask, make_client

ALICE = "sk-ant-api03-SECRET-alice"
BOB = "sk-ant-oat01-SECRET-bob"
OPERATOR = "sk-ant-api03-OPERATOR"

DOORS = [
    ("/v1/chat/completions", ask("hi"), "openai"),
    (
        "/v1/messages",
        {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        "anthropic",
    ),
    ("/v1/responses", {"model": "sonnet", "input": "hi"}, "openai"),
]


def credential(value: str) -> dict[str, str]:
    return {"X-Claude-Credential": value}


@pytest.mark.parametrize("path, body, _", DOORS)
async def test_every_door_runs_the_turn_with_the_callers_credential(path, body, _):
    client, engine = make_client(allow_request_credentials=True)
    async with client:
        assert (await client.post(path, json=body, headers=credential(ALICE))).status_code == 200
        assert (await client.post(path, json=body)).status_code == 200
    assert [turn.credential for turn in engine.turns] == [Credential("api_key", ALICE), None]


@pytest.mark.parametrize("path, body, envelope", DOORS)
async def test_a_credential_is_refused_with_403_unless_allowed(path, body, envelope):
    client, engine = make_client()
    async with client:
        response = await client.post(path, json=body, headers=credential(ALICE))
    assert response.status_code == 403
    if envelope == "openai":
        assert response.json()["error"]["code"] == "request_credentials_not_allowed"
    else:
        assert response.json()["error"]["type"] == "permission_error"
    assert "GATEWAY_ALLOW_REQUEST_CREDENTIALS" in response.text and "SECRET" not in response.text
    assert engine.turns == []


@pytest.mark.parametrize("path, body, envelope", DOORS)
@pytest.mark.parametrize("header", ["SECRET-of-no-known-shape", "api_key:SECRET with a space", f"api_key:{BOB}"])
async def test_a_malformed_credential_is_400_in_the_doors_envelope_and_never_quoted(path, body, envelope, header):
    client, engine = make_client(allow_request_credentials=True)
    async with client:
        response = await client.post(path, json=body, headers=credential(header))
    assert response.status_code == 400
    error = response.json()["error"]
    if envelope == "openai":
        assert (error["code"], error["param"]) == ("invalid_credential", "X-Claude-Credential")
    else:
        assert response.json()["type"] == "error" and error["type"] == "invalid_request_error"
    assert "X-Claude-Credential" in error["message"] and "SECRET" not in response.text
    assert engine.turns == []


async def test_count_tokens_never_asks_with_the_operators_key_for_a_caller_with_their_own(monkeypatch):
    client, engine = make_client(allow_request_credentials=True)
    seen = []

    async def count_tokens(payload, credential=None):
        seen.append(credential)
        return 1, "estimate"

    monkeypatch.setattr(engine, "count_tokens", count_tokens)
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
    async with client:
        assert (await client.post("/v1/messages/count_tokens", json=body, headers=credential(BOB))).status_code == 200
    assert seen == [Credential("oauth_token", BOB)]


async def test_a_named_session_keeps_its_credential():
    client, engine = make_client(allow_request_credentials=True)
    session = {"X-Session-Id": "mine"}
    async with client:
        first = await client.post("/v1/chat/completions", json=ask("one"), headers=session | credential(ALICE))
        other = await client.post("/v1/chat/completions", json=ask("two"), headers=session | credential(BOB))
        operator = await client.post("/v1/chat/completions", json=ask("two"), headers=session)
        again = await client.post("/v1/chat/completions", json=ask("two"), headers=session | credential(ALICE))
    assert first.status_code == 200 and again.status_code == 200
    for refused in (other, operator):
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "session_credential_mismatch"
    assert len(engine.turns) == 2 and engine.turns[0].conversation_id == engine.turns[1].conversation_id


# --- the real engine, the fake CLI -------------------------------------------------------------


def started(log) -> list[dict]:
    return [r for r in map(json.loads, log.read_text().splitlines()) if r["event"] == "start"]


@pytest.fixture
def operator_env(monkeypatch, tmp_path):
    log = tmp_path / "cli.log"
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    monkeypatch.setenv("ANTHROPIC_API_KEY", OPERATOR)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "OPERATOR-bearer")
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "OPERATOR-oauth")
    return log


async def test_a_users_process_has_their_credential_and_config_folder_alone(gateway, operator_env, config_dir):
    client, engine, _ = await gateway(allow_request_credentials=True)
    await engine._warm_up
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "before"}]
    for headers in (credential(ALICE), credential(BOB), {}):
        response = await client.post("/v1/chat/completions", json=ask("[[history]]", history), headers=headers)
        assert response.status_code == 200, response.text
    own = {OPERATOR: config_dir}
    for value in (ALICE, BOB):
        own[value] = (
            engine.work.path / CREDENTIALS_FOLDER / Credential("api_key" if value == ALICE else "oauth_token", value).id
        )
    by_credential: dict[str, list[dict]] = {}
    for run in started(operator_env):
        env = run["env"]
        found = [v for v in (env.get("ANTHROPIC_API_KEY"), env.get("CLAUDE_CODE_OAUTH_TOKEN")) if v]
        if OPERATOR in found:
            assert env["ANTHROPIC_AUTH_TOKEN"] == "OPERATOR-bearer"  # the operator's processes as before
            by_credential.setdefault(OPERATOR, []).append(env)
            continue
        assert len(found) == 1, env  # a user's: theirs, and not one variable of the operator's
        assert not {"ANTHROPIC_AUTH_TOKEN", "CLAUDE_GATEWAY_UNSET"} & set(env), env
        assert "OPERATOR" not in json.dumps(env)
        by_credential.setdefault(found[0], []).append(env)
    assert set(by_credential) == {OPERATOR, ALICE, BOB}
    for value, envs in by_credential.items():
        assert {env.get("CLAUDE_CONFIG_DIR", str(config_dir)) for env in envs} == {str(own[value])}
    # Each one's history transcript was written in its own config folder.
    for value in (ALICE, BOB):
        assert list((own[value] / "projects").glob("*/*.jsonl")), value
    # The credentials are nowhere on disk (the fake's own log aside).
    for value in (ALICE, BOB):
        found = subprocess.run(
            ["grep", "-rl", "--exclude=cli.log", value, str(engine.work.path), str(config_dir)], capture_output=True
        )
        assert found.stdout == b"", found.stdout


@pytest.mark.parametrize(
    "path, prompt, status, code",
    [
        ("/v1/chat/completions", "[[error 401]]", 401, "user_credential_rejected"),
        ("/v1/chat/completions", "[[error 400]]", 429, "user_credential_quota"),  # the extra-usage refusal
        ("/v1/messages", "[[error 401]]", 401, "authentication_error"),
        ("/v1/messages", "[[error 400]]", 429, "rate_limit_error"),
    ],
)
async def test_a_refusal_of_the_users_credential_is_theirs(gateway, operator_env, path, prompt, status, code):
    client, _, _ = await gateway(allow_request_credentials=True)
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": prompt}]}
    response = await client.post(path, json=body, headers=credential(BOB))
    assert response.status_code == status
    error = response.json()["error"]
    assert code in (error.get("code"), error["type"])
    assert "your own Claude credential (Claude subscription token)" in error["message"]
    for operator_words in ("gateway's", "ANTHROPIC_API_KEY", "claude login", "SECRET"):
        assert operator_words not in error["message"]


async def test_a_resent_history_continues_only_a_conversation_of_the_same_credential(gateway, operator_env):
    client, _, _ = await gateway(allow_request_credentials=True)
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "echo: one"}]
    turns = []
    for value, body in ((ALICE, ask("one")), (BOB, ask("two", history)), (ALICE, ask("two", history))):
        assert (await client.post("/v1/chat/completions", json=body, headers=credential(value))).status_code == 200
        turns.append(sorted(session["turns"] for session in (await client.get("/v1/sessions")).json()["data"]))
    assert turns == [[1], [1, 1], [1, 2]]  # Bob's started over; Alice's went on


async def test_a_named_session_that_served_nothing_starts_over_under_the_new_credential(gateway, operator_env):
    client, engine, _ = await gateway(allow_request_credentials=True)
    session = {"X-Session-Id": "fresh"}
    failed = await client.post("/v1/chat/completions", json=ask("[[error 401]]"), headers=session | credential(ALICE))
    assert failed.status_code == 401
    served = await client.post("/v1/chat/completions", json=ask("[[turns]]"), headers=session | credential(BOB))
    assert served.status_code == 200, served.text
    (conversation,) = engine.router.all.values()
    bob = Credential("oauth_token", BOB)
    assert conversation.credential == bob and conversation.config_dir == engine.options.config_dir(bob)
    records = [json.loads(line) for line in operator_env.read_text().splitlines()]
    (served_by,) = [r["pid"] for r in records if r["event"] == "user" and "[[turns]]" in json.dumps(r["message"])]
    (run,) = [r for r in records if r["event"] == "start" and r["pid"] == served_by]
    assert run["env"].get("CLAUDE_CODE_OAUTH_TOKEN") == BOB  # not the last start: a spare may start after it
