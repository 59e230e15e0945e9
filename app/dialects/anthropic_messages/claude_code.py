"""Claude Code as a client of /v1/messages: what its requests carry that other clients' do not, read
here so that each Claude Code session is one gateway session and nothing it sends is a 400.

- `metadata.user_id` holds a JSON object (as a string, or the object itself) with its
  `session_id`, `device_id` and `account_uuid`: the session id keys the gateway session its
  requests continue (sessions/turn.py, within the caller's tenant), the account or device is the
  turn's user.
- `anthropic-beta` names the beta features it asks for; those the gateway does not apply are
  named in X-Gateway-Ignored-Params.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...core.wire import SESSION_ID_PATTERN

# The gateway session a Claude Code session maps to: this prefix and its session id.
SESSION_PREFIX = "claude-code-"
# Beta features the gateway serves (their dated suffix aside): the MCP connector (`mcp_servers`),
# uploaded files, tool search (`defer_loading`), and Claude Code's own identification.
APPLIED_BETAS = ("mcp-client-", "files-api-", "advanced-tool-use-", "tool-search-tool-", "claude-code-")


def _fields(user_id: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(user_id, dict):
        return user_id
    if not user_id or not user_id.lstrip().startswith("{"):
        return {}
    try:
        found = json.loads(user_id)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def session_key(user_id: str | dict[str, Any] | None) -> str | None:
    """The gateway session id for the Claude Code session named in `metadata.user_id`; None when it
    names none (any other client's user id), or one that is no valid session id."""
    session = _fields(user_id).get("session_id")
    if not isinstance(session, str) or not session:
        return None
    key = SESSION_PREFIX + session
    return key if re.fullmatch(SESSION_ID_PATTERN, key) else None


def user(user_id: str | dict[str, Any] | None) -> str | None:
    """The turn's user: Claude Code's account (or, without one, its device); any other string
    `user_id` as it is."""
    found = _fields(user_id)
    named = found.get("account_uuid") or found.get("device_id")
    if isinstance(named, str) and named:
        return named
    return user_id if isinstance(user_id, str) else None


def unapplied_betas(header: str | None) -> list[str]:
    """The `anthropic-beta` features asked for that the gateway does not apply, as
    `anthropic-beta[<feature>]` (the header shows those characters as they are)."""
    features = [name.strip() for name in (header or "").split(",") if name.strip()]
    return [f"anthropic-beta[{name[:100]}]" for name in features if not name.startswith(APPLIED_BETAS)]
