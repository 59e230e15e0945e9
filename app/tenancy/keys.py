"""Managed keys: created and changed through the admin API, kept in the store, resolved per request.

A key is 32 random bytes (`sk-gw-...`); the store keeps only its SHA-256 digest, which is safe for
a key of that entropy (no dictionary to try). A presented key is looked up by its digest on every
request, so a revoked key fails at once, on every replica of a shared store. A key's tenant is
`key-<id>`: stable across restarts, so its sessions and usage stay its own.

A key's Claude credential is encrypted with Fernet under a key derived from GATEWAY_SECRET_KEY
(app/tenancy/secret.py) and decrypted only into the resolved caller (auth.Tenant.credential). A
record written under the older derivation (SHA-256 of the secret) is still read, and is written
again under the new one whenever its key is changed (`update`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from cryptography.fernet import InvalidToken

from ..core.credentials import Credential
from ..core.errors import GatewayError, invalid_api_key, invalid_request
from ..core.settings import Settings
from ..store import KeyRecord, Store
from .auth import ANONYMOUS, Tenant, key_matches, key_tenant
from .policy import POLICY_FIELDS, ClaudeCredentialIn, KeyCreate, KeyPatch, Policy, stored_policy
from .secret import credential_fernet

KEY_PREFIX = "sk-gw-"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def tenant_of(key_id: str) -> str:
    return f"key-{key_id}"


def key_not_found(key_id: str) -> GatewayError:
    return GatewayError(404, f"No key '{key_id}'.", "invalid_request_error", "key_not_found", "key_id")


class KeyService:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        secret = settings.secret_key
        self._fernet = credential_fernet(secret) if secret else None

    # --- who is calling -----------------------------------------------------------------------
    async def tenant(self, presented: str | None) -> Tenant:
        """The caller a presented key names; 401 unless it is a live key (anonymous when keyless)."""
        if not self.settings.keyed:
            return ANONYMOUS
        keys = self.settings.api_key_list
        if presented and keys and key_matches(presented, keys):
            return key_tenant(presented)
        if presented and presented.startswith(KEY_PREFIX):
            wanted = digest(presented)
            record = await self.store.find_key(wanted)
            if record is not None and hmac.compare_digest(record.digest, wanted):
                return self._tenant(record)
        raise invalid_api_key()

    async def tenant_by_id(self, key_id: str) -> Tenant | None:
        """The tenant of a live managed key (a batch resolves its creator's key again as it runs)."""
        record = await self.store.get_key(key_id)
        return None if record is None else self._tenant(record)

    def is_admin(self, presented: str | None) -> bool:
        return bool(self.settings.admin_key) and key_matches(presented or "", [self.settings.admin_key])

    def _tenant(self, record: KeyRecord) -> Tenant:
        credential, unreadable = None, False
        if record.credential is not None:
            try:
                assert self._fernet is not None
                data = json.loads(self._fernet.decrypt(record.credential.encode()))
                credential = Credential(data["type"], data["value"])
            except (AssertionError, InvalidToken):
                unreadable = True  # the secret changed or is gone: its turns are refused, never the operator's
        policy = stored_policy(record.policy)
        return Tenant(tenant_of(record.id), record.id, record.name, policy, credential, unreadable)

    # --- the admin API ------------------------------------------------------------------------
    async def create(self, body: KeyCreate) -> tuple[KeyRecord, str]:
        """A new key: its record and the key itself (shown this once)."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id=f"gk_{secrets.token_hex(8)}",
            name=body.name,
            digest=digest(secret),
            policy=Policy.model_validate(body.model_dump(include=set(POLICY_FIELDS))).model_dump(),
            created=time.time(),
            credential=self._encrypt(body.claude_credential),
        )
        await self.store.add_key(record)
        return record, secret

    async def get(self, key_id: str) -> KeyRecord:
        record = await self.store.get_key(key_id)
        if record is None:
            raise key_not_found(key_id)
        return record

    async def update(self, key_id: str, patch: KeyPatch) -> KeyRecord:
        record = await self.get(key_id)
        changes = patch.model_dump(include=patch.model_fields_set)
        if "name" in changes:
            if changes["name"] is None:
                raise invalid_request("A key's name cannot be removed.", "name", "invalid_value")
            record.name = changes["name"]
        if "claude_credential" in patch.model_fields_set:
            record.credential = self._encrypt(patch.claude_credential)
        elif record.credential is not None and self._fernet is not None:
            try:  # written again under the newest derivation (a no-op's cost for a current one)
                record.credential = self._fernet.rotate(record.credential.encode()).decode()
            except InvalidToken:
                pass  # unreadable (the secret changed): kept as it is, the admin may set it again
        stored = stored_policy(record.policy).model_dump()
        policy = {**stored, **{k: v for k, v in changes.items() if k in POLICY_FIELDS}}
        if policy.get("budget_period") is None:
            policy["budget_period"] = "month"
        if policy.get("agent_mode") is None:
            policy["agent_mode"] = False
        record.policy = Policy.model_validate(policy).model_dump()
        await self.store.update_key(record)
        return record

    async def revoke(self, key_id: str) -> None:
        if not await self.store.revoke_key(key_id, time.time()):
            raise key_not_found(key_id)

    def _encrypt(self, credential: ClaudeCredentialIn | None) -> str | None:
        if credential is None:
            return None
        if self._fernet is None:
            raise invalid_request(
                "Storing a Claude credential needs GATEWAY_SECRET_KEY (the secret that encrypts it) to be set "
                "on the gateway.",
                "claude_credential",
                "secret_key_missing",
            )
        return self._fernet.encrypt(json.dumps(credential.model_dump()).encode()).decode()


def public(record: KeyRecord) -> dict[str, Any]:
    """A key as the admin API shows it: never its digest nor its credential (only whether it has one)."""
    return {
        "id": record.id,
        "object": "api_key",
        "name": record.name,
        "created": int(record.created),
        "tenant": tenant_of(record.id),
        "policy": record.policy,
        "has_claude_credential": record.credential is not None,
    }
