"""Which Claude credential the gateway's CLI processes will use (never the secret itself)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# In the order Claude Code prefers them.
SOURCES: list[tuple[str, str]] = [
    ("CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK)"),
    ("CLAUDE_CODE_USE_VERTEX", "Google Vertex AI (CLAUDE_CODE_USE_VERTEX)"),
    ("ANTHROPIC_AUTH_TOKEN", "bearer token (ANTHROPIC_AUTH_TOKEN)"),
    ("ANTHROPIC_API_KEY", "API key (ANTHROPIC_API_KEY)"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "subscription token (CLAUDE_CODE_OAUTH_TOKEN)"),
]


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
