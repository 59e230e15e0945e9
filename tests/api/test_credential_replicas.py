"""A session bound to its caller's own Claude credential goes on at another replica and after a
restart: the name that binds it (app/sessions/credential_names.py) is the same in every gateway
process, derived from GATEWAY_SECRET_KEY or kept in the store, never random per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.credentials import Credential
from app.sessions.credential_names import CredentialNames
from app.store import open_store
from tests.support import ask, make_client

ALICE = "sk-ant-api03-SECRET-alice"
BOB = "sk-ant-oat01-SECRET-bob"
ADMIN_KEY = "admin-key-of-the-credential-replica-tests-0123456789"
SECRET_KEY = "secret-key-of-the-credential-replica-tests-0123456789"
SESSION = {"X-Session-Id": "s1"}


def sent(value: str) -> dict[str, str]:
    return SESSION | {"X-Claude-Credential": value}


@pytest.mark.parametrize("secret_key", ["", SECRET_KEY], ids=["store-kept", "secret-derived"])
async def test_turn_two_of_a_credential_session_goes_on_at_the_other_replica(redis_url, secret_key):
    settings = {"redis_url": redis_url, "allow_request_credentials": True, "secret_key": secret_key}
    (a, engine_a), (b, engine_b) = make_client(**settings), make_client(**settings)
    async with a, b:
        first = await a.post("/v1/chat/completions", json=ask("one"), headers=sent(ALICE))
        second = await b.post("/v1/chat/completions", json=ask("two"), headers=sent(ALICE))
        other = await b.post("/v1/chat/completions", json=ask("three"), headers=sent(BOB))
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text  # was 409 session_credential_mismatch
    assert engine_b.turns[-1].conversation_id == engine_a.turns[-1].conversation_id
    assert other.status_code == 409 and other.json()["error"]["code"] == "session_credential_mismatch"


async def test_a_stored_credentials_session_goes_on_at_the_other_replica(redis_url):
    settings = {"redis_url": redis_url, "admin_key": ADMIN_KEY, "secret_key": SECRET_KEY}
    (a, _), (b, engine_b) = make_client(**settings), make_client(**settings)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with a, b:
        body = {"name": "team", "claude_credential": {"type": "api_key", "value": ALICE}}
        created = await a.post("/admin/keys", json=body, headers=admin)
        user = SESSION | {"Authorization": f"Bearer {created.json()['key']}"}
        first = await a.post("/v1/chat/completions", json=ask("one"), headers=user)
        second = await b.post("/v1/chat/completions", json=ask("two"), headers=user)
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert engine_b.turns[-1].credential == Credential("api_key", ALICE)


async def test_a_credential_session_goes_on_after_a_restart(redis_url):
    settings = {"redis_url": redis_url, "allow_request_credentials": True}
    before, _ = make_client(**settings)
    async with before:
        assert (await before.post("/v1/chat/completions", json=ask("one"), headers=sent(ALICE))).status_code == 200
    after, _ = make_client(**settings)  # the same Redis, a new gateway
    async with after:
        second = await after.post("/v1/chat/completions", json=ask("two"), headers=sent(ALICE))
    assert second.status_code == 200, second.text


NAME_IN_ANOTHER_PROCESS = """
import asyncio, sys
from app.core.credentials import Credential
from app.sessions.credential_names import CredentialNames
from app.store import open_sqlite
from pathlib import Path
names = CredentialNames(sys.argv[1], open_sqlite(Path(sys.argv[2])))
print(asyncio.run(names.of(Credential("api_key", sys.argv[3]))))
"""


@pytest.mark.parametrize("secret_key", ["", SECRET_KEY], ids=["store-kept", "secret-derived"])
async def test_a_credentials_name_is_the_same_in_another_process_on_the_same_data(tmp_path: Path, secret_key):
    """A restart on SQLite (the same data folder), or a replica with the same secret, names the
    credential as this process does."""
    data = tmp_path / "data"
    store = open_store(data)
    here = await CredentialNames(secret_key, store).of(Credential("api_key", ALICE))
    store.close()
    script = textwrap.dedent(NAME_IN_ANOTHER_PROCESS)
    args = [sys.executable, "-c", script, secret_key, str(data), ALICE]
    there = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert here and there == here
    assert ALICE not in here
    other = await CredentialNames(secret_key, open_store(data)).of(Credential("api_key", BOB))
    assert other != here
