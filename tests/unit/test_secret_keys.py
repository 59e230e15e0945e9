"""The operator's secrets: GATEWAY_ADMIN_KEY and GATEWAY_SECRET_KEY must be strong or the gateway
refuses to start naming the variable; stored credentials are encrypted under a key derived from
the secret (HKDF with a purpose label), and a record of the older SHA-256 derivation is still read
and is written again under the new key when its key is changed."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError

from app.core.settings import Settings
from app.store import KeyRecord, open_store
from app.tenancy.keys import KeyService, digest
from app.tenancy.policy import KeyPatch
from app.tenancy.secret import CREDENTIAL_NAMES, STORED_CREDENTIALS, derive

ROOT = Path(__file__).resolve().parents[2]
STRONG = "0123456789abcdef0123456789abcdef"  # `openssl rand -hex 16`'s shape, 32 characters
WEAK = ["admin", "change-me-admin-key", "a" * 64, "ab" * 40, "0123456789abcdef0123456789abcde"]


@pytest.mark.parametrize("value", WEAK)
@pytest.mark.parametrize("field", ["admin_key", "secret_key"])
def test_a_weak_admin_or_secret_key_is_refused_naming_the_variable(field, value):
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, **{field: value})
    assert f"GATEWAY_{field.upper()} is too weak" in str(raised.value)
    assert "input_value" not in str(raised.value) and repr(value) not in str(raised.value)  # never echoed


def test_strong_keys_and_none_are_accepted():
    Settings(_env_file=None, admin_key=STRONG, secret_key=STRONG + "x")
    Settings(_env_file=None)


def test_the_gateway_refuses_to_start_with_a_weak_key_and_says_which(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_ADMIN_KEY": STRONG,
        "GATEWAY_SECRET_KEY": "change-me-long-random-secret",
        "GATEWAY_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Refusing to start: GATEWAY_SECRET_KEY is too weak: use at least 32 characters, "
        "at least 10 of them different (e.g. `openssl rand -hex 32`)"
    )


def test_each_purpose_gets_its_own_key_and_none_is_the_secrets_sha256():
    keys = {
        derive(STRONG, STORED_CREDENTIALS),
        derive(STRONG, CREDENTIAL_NAMES),
        hashlib.sha256(STRONG.encode()).digest(),
    }
    assert len(keys) == 3
    assert derive(STRONG, STORED_CREDENTIALS) == derive(STRONG, STORED_CREDENTIALS)  # every replica alike


async def test_a_credential_stored_under_the_old_derivation_is_read_and_rewritten_under_the_new(tmp_path):
    settings = Settings(_env_file=None, secret_key=STRONG, admin_key=STRONG)
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(STRONG.encode()).digest()))
    derived = Fernet(base64.urlsafe_b64encode(derive(STRONG, STORED_CREDENTIALS)))
    store = open_store(tmp_path)
    secret = "sk-gw-" + "o" * 43
    old = legacy.encrypt(json.dumps({"type": "api_key", "value": "sk-ant-old-record"}).encode()).decode()
    await store.add_key(KeyRecord("gk_old", "old", digest(secret), {}, time.time(), credential=old))
    keys = KeyService(settings, store)

    tenant = await keys.tenant(secret)
    assert tenant.credential is not None and tenant.credential.value == "sk-ant-old-record"

    await keys.update("gk_old", KeyPatch(name="renamed"))  # a write rewrites it under the new key
    stored = (await store.get_key("gk_old")).credential
    assert stored is not None and stored != old
    assert json.loads(derived.decrypt(stored.encode()))["value"] == "sk-ant-old-record"
    with pytest.raises(InvalidToken):
        legacy.decrypt(stored.encode())
    assert (await keys.tenant(secret)).credential.value == "sk-ant-old-record"


async def test_a_new_credential_is_written_under_the_derived_key(tmp_path):
    from app.tenancy.policy import KeyCreate

    store = open_store(tmp_path)
    keys = KeyService(Settings(_env_file=None, secret_key=STRONG), store)
    body = KeyCreate(name="new", claude_credential={"type": "oauth_token", "value": "sk-ant-oat-new"})
    record, _ = await keys.create(body)
    derived = Fernet(base64.urlsafe_b64encode(derive(STRONG, STORED_CREDENTIALS)))
    assert json.loads(derived.decrypt(record.credential.encode()))["value"] == "sk-ant-oat-new"
