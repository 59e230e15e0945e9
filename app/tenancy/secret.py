"""Keys derived from GATEWAY_SECRET_KEY, one per purpose, the same on every replica and after a
restart (none is random per process: a replica must read what another wrote).

Each is HKDF-SHA256 of the secret with a fixed salt and the purpose as its label, so that no two
purposes share a key and none of them is the secret itself. GATEWAY_SECRET_KEY must be long and
random (core/settings/checks.py refuses a weak one), which is what HKDF needs; it does not stretch
a password.

Stored Claude credentials were once encrypted under SHA-256(secret) (before HKDF): `credential_fernet`
still reads those, and KeyService writes every credential it writes under the derived key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"claude-gateway/secret-key/v1"
STORED_CREDENTIALS = "stored-credentials/fernet"
CREDENTIAL_NAMES = "credential-names/hmac"


def derive(secret: str, purpose: str) -> bytes:
    """32 bytes for `purpose` from `secret`."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=purpose.encode()).derive(secret.encode())


def credential_fernet(secret: str) -> MultiFernet:
    """Encrypts under the derived key; decrypts that, or a record of the SHA-256 days."""
    derived = Fernet(base64.urlsafe_b64encode(derive(secret, STORED_CREDENTIALS)))
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))
    return MultiFernet([derived, legacy])
