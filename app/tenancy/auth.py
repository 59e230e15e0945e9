"""API keys -> tenants. Keys are compared by digest in constant time; a tenant is named by a key digest."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from ..core.credentials import Credential
from ..core.settings import Settings
from .policy import Policy


@dataclass(frozen=True)
class Tenant:
    """Who is calling. A managed key (tenancy/keys.py) brings its id, name, policy and its owner's
    Claude credential (decrypted; None: the operator's); a GATEWAY_API_KEYS key has no limits."""

    id: str
    key_id: str | None = None
    name: str | None = None
    policy: Policy | None = field(default=None, compare=False)
    credential: Credential | None = field(default=None, compare=False, repr=False)
    credential_unreadable: bool = False  # its stored credential cannot be decrypted (GATEWAY_SECRET_KEY changed)


ANONYMOUS = Tenant("anonymous")
# The admin key on the read-only views that accept it (http/deps.ViewerDep): no tenant of its own, it
# sees the whole gateway there, as keyless mode does. It never runs a turn.
ADMIN = Tenant("admin")


def key_name(tenant: Tenant) -> str:
    """The caller's key as metrics and logs name it: a managed key's name, else its tenant (a
    GATEWAY_API_KEYS key's digest, or "anonymous"); never the key itself."""
    return tenant.name or tenant.id


def presented_key(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


def key_matches(presented: str, keys: list[str]) -> bool:
    """Whether `presented` is one of `keys`, in time that tells nothing about either.

    SHA-256 digests are compared, never the raw strings: `hmac.compare_digest` on strings of
    different lengths returns at once, which would tell a caller how long the keys are. Every key
    is compared (no early exit), so the time does not say which key matched either.
    """
    digest = hashlib.sha256(presented.encode()).digest()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(digest, hashlib.sha256(key.encode()).digest())
    return matched and bool(presented)


def key_tenant(presented: str) -> Tenant:
    """The tenant of a GATEWAY_API_KEYS key the caller already matched (key_matches): named by its digest."""
    return Tenant("key-" + hashlib.sha256(presented.encode()).hexdigest()[:16])


def request_credential_allowed(tenant: Tenant, settings: Settings) -> bool:
    """Whether this caller may send its own Claude credential per request (X-Claude-Credential).
    The gateway-wide setting, or the key's own policy."""
    return settings.allow_request_credentials or bool(tenant.policy and tenant.policy.request_credentials)


def hosted_tools_allowed(tenant: Tenant, settings: Settings) -> frozenset[str]:
    """The hosted tools (web search, web fetch, remote MCP) this caller may use: a managed key's
    policy decides (none without a `hosted_tools` list); keyless callers and GATEWAY_API_KEYS keys
    follow GATEWAY_HOSTED_TOOLS."""
    if tenant.policy is not None:
        return frozenset(tenant.policy.hosted_tools or ())
    return settings.hosted_tool_list


def agent_mode_allowed(tenant: Tenant, settings: Settings) -> bool:
    """Whether this caller may use agent mode (Claude Code's own tools, workspaces, files): a
    managed key's policy decides; keyless callers and GATEWAY_API_KEYS keys follow GATEWAY_AGENT_MODE."""
    return tenant.policy.agent_mode if tenant.policy is not None else settings.agent_mode
