"""The name a session is bound to its caller's own Claude credential by: the same on every replica
and after a restart, so that turn 2 of a session on another replica is not taken for a turn under
another credential (409 session_credential_mismatch).

A name is an HMAC of the credential, never the credential: Redis and the registry hold names only,
and a name cannot be checked against guessed credentials without the HMAC's key. That key is
derived from GATEWAY_SECRET_KEY (app/tenancy/secret.py) when it is set; without it, it is a random
key the store makes once and keeps (Store.shared_secret: SQLite, or Redis for replicas), which
whoever reads the store can read too (set GATEWAY_SECRET_KEY to keep it off the store).

(`Credential.id` names processes and config folders inside one process; it never leaves it.)
"""

from __future__ import annotations

from ..core.credentials import Credential
from ..store import Store
from ..tenancy.secret import CREDENTIAL_NAMES, derive


class CredentialNames:
    def __init__(self, secret: str, store: Store) -> None:
        self._key = derive(secret, CREDENTIAL_NAMES) if secret else None
        self._store = store

    async def of(self, credential: Credential | None) -> str | None:
        """The name of `credential`; None for the operator's."""
        if credential is None:
            return None
        if self._key is None:
            self._key = await self._store.shared_secret(CREDENTIAL_NAMES)
        return credential.named(self._key)
