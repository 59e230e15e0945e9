"""Claude credentials: which one the operator's environment offers the gateway (never the secret
itself), and a user's own (`Credential`), which their turns run with instead of the operator's.

A turn with a user's credential runs on a CLI process that has that credential and nothing of the
operator's: none of the operator's credential variables (`operator_variables`) and not the
operator's `claude login`, because the process gets a Claude config folder of that credential
alone (engine/processes/options.py). Processes, spares and transcripts are kept apart by `Credential.id`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# In the order Claude Code prefers them.
SOURCES: list[tuple[str, str]] = [
    ("CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK)"),
    ("CLAUDE_CODE_USE_VERTEX", "Google Vertex AI (CLAUDE_CODE_USE_VERTEX)"),
    ("ANTHROPIC_AUTH_TOKEN", "bearer token (ANTHROPIC_AUTH_TOKEN)"),
    ("ANTHROPIC_API_KEY", "API key (ANTHROPIC_API_KEY)"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "subscription token (CLAUDE_CODE_OAUTH_TOKEN)"),
]

CredentialType = Literal["api_key", "oauth_token"]
# The variable each type reaches Claude Code in (the CLI sends x-api-key or Authorization: Bearer).
VARIABLES: dict[str, str] = {"api_key": "ANTHROPIC_API_KEY", "oauth_token": "CLAUDE_CODE_OAUTH_TOKEN"}
LABELS: dict[str, str] = {"api_key": "Anthropic API key", "oauth_token": "Claude subscription token"}

# Names a credential id with a key of this process alone: a folder name says nothing about the
# credential to whoever reads it, and cannot be checked against guesses offline. The id names this
# process's CLI processes and config folders only: a session is bound to a credential by a name
# every replica agrees on (sessions/credential_names.py).
_ID_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Credential:
    """A user's own Claude credential. Its value never shows in a repr, a log line or a message."""

    type: CredentialType
    value: str = field(repr=False)

    @property
    def id(self) -> str:
        """A name of this credential, the same for the same credential while this process runs."""
        return self.named(_ID_KEY)

    def named(self, key: bytes) -> str:
        """This credential's name under `key` (an HMAC: it tells nothing of the credential)."""
        message = f"{self.type}\0{self.value}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    @property
    def label(self) -> str:
        return LABELS[self.type]

    def env(self) -> dict[str, str]:
        """The variable that gives Claude Code this credential."""
        return {VARIABLES[self.type]: self.value}


OAUTH_PREFIX = "sk-ant-oat"  # what `claude setup-token` gives
API_KEY_PREFIX = "sk-ant-"
MAX_LENGTH = 4096
FORMAT = "'api_key:<Anthropic API key>' or 'oauth_token:<token from `claude setup-token`>'"


def parse(text: str) -> Credential:
    """A credential as a client writes it: `type:value`, or a bare value whose type its prefix
    tells (sk-ant-oat...: a subscription token; other sk-ant-...: an API key). ValueError, with a
    message that never quotes the value, if it is not one."""
    text = text.strip()
    if not text:
        raise ValueError(f"the credential is empty; send {FORMAT}.")
    kind, sep, value = text.partition(":")
    if not sep or kind not in VARIABLES:
        kind, value = _inferred(text), text
    value = value.strip()
    if not value:
        raise ValueError(f"the credential is empty; send {FORMAT}.")
    if len(value) > MAX_LENGTH or not all("!" <= c <= "~" for c in value):
        raise ValueError(f"the credential must be printable ASCII without spaces, at most {MAX_LENGTH} characters.")
    if value.startswith(API_KEY_PREFIX) and (kind == "oauth_token") != value.startswith(OAUTH_PREFIX):
        actual = "oauth_token" if value.startswith(OAUTH_PREFIX) else "api_key"
        raise ValueError(f"the credential is marked {kind} but looks like an {actual}; send {FORMAT}.")
    return Credential("api_key" if kind == "api_key" else "oauth_token", value)


def _inferred(text: str) -> str:
    if text.startswith(OAUTH_PREFIX):
        return "oauth_token"
    if text.startswith(API_KEY_PREFIX):
        return "api_key"
    raise ValueError(f"the credential's type is not known; send {FORMAT}.")


# The operator's variables that choose or carry a credential (or a provider that would bring its
# own): a user's process gets none of them. CLAUDE_CONFIG_DIR is replaced, not removed.
PROVIDER_PREFIXES = ("AWS_", "GOOGLE_", "CLOUD_ML_", "VERTEX_")
CLAUDE_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_")
SECRET_WORDS = frozenset(
    "KEY TOKEN AUTH SECRET CREDENTIAL CREDENTIALS PASSWORD PASSPHRASE HEADERS HELPER DESCRIPTOR CERT "
    "OAUTH IDENTITY BEDROCK VERTEX FOUNDRY MANTLE AWS GOOGLE".split()
)


def is_operator_credential(name: str) -> bool:
    """Whether the variable `name` of the operator's would give a process a credential (or a
    provider): ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_CUSTOM_HEADERS,
    CLAUDE_CODE_USE_BEDROCK, AWS_*, ... but not ANTHROPIC_BASE_URL or CLAUDE_CODE_MAX_OUTPUT_TOKENS."""
    if name.startswith(PROVIDER_PREFIXES):
        return True
    return name.startswith(CLAUDE_PREFIXES) and not SECRET_WORDS.isdisjoint(name.split("_"))


def operator_variables(*environments: Iterable[str]) -> list[str]:
    """The operator's credential variables in these environments, sorted."""
    return sorted({name for env in environments for name in env if is_operator_credential(name)})


def detect(config_dir: Path, environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    for variable, description in SOURCES:
        if environ.get(variable):
            return {"configured": True, "source": variable, "description": description}
    if (config_dir / ".credentials.json").is_file():
        return {
            "configured": True,
            "source": "claude_login",
            "description": f"`claude login` credentials in {config_dir}",
        }
    return {
        "configured": False,
        "source": None,
        "description": "No Claude credential found. Run `claude login`, or set ANTHROPIC_API_KEY or "
        "CLAUDE_CODE_OAUTH_TOKEN (macOS keychain logins are not visible here; the CLI may still have one).",
    }
