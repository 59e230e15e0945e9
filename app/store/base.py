"""The store's one small interface, so that a shared store (for several replicas) can stand in for
the embedded SQLite one. Records are plain dataclasses; no database type leaks out of app/store/."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.hosted import MCP, WEB_FETCH, WEB_SEARCH

# The hosted tool calls that ran (core/hosted.py names), counted per turn in the ledger's entries
# and totals under these names. Claude Code's total_cost_usd already includes what a search costs.
HOSTED_CALLS = {WEB_SEARCH: "web_search_requests", WEB_FETCH: "web_fetch_requests", MCP: "mcp_calls"}
HOSTED_COUNTS = tuple(HOSTED_CALLS.values())
TOKENS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


@dataclass
class KeyRecord:
    """A managed API key. Only the key's SHA-256 digest is kept; `credential` is ciphertext."""

    id: str
    name: str
    digest: str  # sha256 hex of the key
    policy: dict[str, Any]  # the policy's JSON form (app/tenancy/policy.py)
    created: float
    credential: str | None = None  # the owner's Claude credential, encrypted (Fernet token)
    revoked: float | None = None


@dataclass
class UsageEntry:
    """One turn in the ledger."""

    at: float  # when the turn ended (epoch seconds)
    key_id: str | None  # a managed key's id; None for GATEWAY_API_KEYS keys and keyless use
    tenant: str
    session_id: str | None
    model: str
    door: str  # "chat", "messages", "responses"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    duration_ms: int = 0
    status: str = "ok"  # ok, error, cancelled
    error: str | None = None  # an error's code (e.g. rate_limited, claude_process_failed)
    web_search_requests: int = 0  # HOSTED_CALLS: hosted calls that ran (a refused one did not)
    web_fetch_requests: int = 0
    mcp_calls: int = 0


@dataclass
class ResponseRecord:
    """A stored Responses API response: what GET returns, and the messages it added to its
    conversation (its input, less the earlier conversation, and its answer), so that a chain of
    `previous_id`s gives the whole conversation back after a restart, each message kept once."""

    id: str
    tenant: str
    previous_id: str | None
    system: str | None
    messages: list[dict[str, Any]] | None  # {"role", "content"} each; None: its session was deleted
    response: dict[str, Any]
    stored_at: float
    session: str | None = None  # the uid of the session that served it


@dataclass
class Spent:
    cost_usd: float = 0.0
    tokens: int = 0


@dataclass(frozen=True)
class Reservation:
    """Budget to hold for turns about to start (app/tenancy/limits.py): `each` of them (an
    estimate) under id `ids[i]`, against a key's budgets since `since`. A hold lasts until the
    turn's ledger entry settles it, or `lease` seconds (a gateway that died mid-turn)."""

    tenant: str
    since: float
    ids: tuple[str, ...]
    each: Spent
    budget_usd: float | None
    token_budget: int | None
    lease: float


@dataclass(frozen=True)
class Reserved:
    """What a reservation found: whether it was held, the ledger's spending since the period
    began, and the key's other live holds."""

    admitted: bool
    spent: Spent
    held: Spent
    holds: int = 0


def admits(reservation: Reservation, spent: Spent, held: Spent, holds: int) -> bool:
    """The budget rule, the same in every store: the turns fit when what was spent, what running
    turns hold and what they reserve stay within each budget. A single turn with no other turn
    of the key running may start while anything is left (as before reservations), so a budget
    smaller than one turn's estimate still serves one turn at a time; it overshoots by at most
    that turn."""
    count = len(reservation.ids)
    limits: list[tuple[float | None, float, float, float]] = [
        (reservation.budget_usd, spent.cost_usd, held.cost_usd, reservation.each.cost_usd),
        (reservation.token_budget, spent.tokens, held.tokens, reservation.each.tokens),
    ]
    if all(limit is None or used + holding + count * each <= limit for limit, used, holding, each in limits):
        return True
    return count == 1 and holds == 0 and all(limit is None or used < limit for limit, used, _, _ in limits)


@dataclass
class UsageTotal:
    """The ledger summed over one (tenant, key, day, model)."""

    tenant: str
    key_id: str | None
    day: str  # YYYY-MM-DD, UTC
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_usd: float
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    mcp_calls: int = 0


@dataclass
class BucketTotal:
    """The ledger summed over one time bucket and one (tenant, key, model, service tier, context
    window): the finest grouping the usage and cost reports (app/usage/reports.py) fold from."""

    start: int  # the bucket's start (epoch seconds, a multiple of its width)
    tenant: str
    key_id: str | None
    model: str
    service_tier: str  # "batch" for batch turns, else "standard" (service_tier())
    context_window: str  # "0-200k" or "200k-1M" (context_window())
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_usd: float
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    mcp_calls: int = 0


class BucketWidthUnsupported(ValueError):
    """A bucket width this ledger cannot answer (the Redis ledger keeps hour and day counters)."""


LONG_CONTEXT = 200_000  # Anthropic's context-window pricing tiers: "0-200k" and "200k-1M"


def service_tier(door: str) -> str:
    """The Anthropic service tier a turn ran at: batch turns (door "batch") at "batch"."""
    return "batch" if door == "batch" else "standard"


def context_window(input_tokens: int, cache_read: int, cache_creation: int) -> str:
    """The context-window tier of one turn, by its whole prompt (cached parts included)."""
    return "200k-1M" if input_tokens + cache_read + cache_creation > LONG_CONTEXT else "0-200k"


def bucket_span(start: float, end: float, width: int) -> tuple[int, int]:
    """The start of the first `width`-second bucket (the one `start` is in) and the end of the
    last one (the last that starts before `end`)."""
    first = int(start // width * width)
    count = max(0, -(-(end - first) // width))
    return first, int(first + count * width)


class Store(Protocol):
    async def add_key(self, key: KeyRecord) -> None: ...

    async def find_key(self, digest: str) -> KeyRecord | None:
        """The live (not revoked) key with this digest."""
        ...

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The live key with this id."""
        ...

    async def list_keys(self) -> list[KeyRecord]: ...

    async def update_key(self, key: KeyRecord) -> None:
        """Change a live key; a revoked one stays revoked (even if revoked since it was read)."""
        ...

    async def revoke_key(self, key_id: str, at: float) -> bool:
        """Revoke a live key, dropping its stored credential; False if there is none of that id."""
        ...

    async def record(self, entry: UsageEntry, holds: Sequence[str] = ()) -> None:
        """Write a turn's entry and drop the budget holds it settles, in one transaction."""
        ...

    async def reserve(self, reservation: Reservation) -> Reserved:
        """Hold the reservation's turns if admits() them, atomically against every other
        reservation and entry of the tenant (on every replica)."""
        ...

    async def release(self, tenant: str, holds: Sequence[str]) -> None:
        """Drop budget holds no entry settled (their turn never reached Claude)."""
        ...

    async def failures(self, limit: int) -> list[UsageEntry]:
        """The latest turns that ended in an error, newest first."""
        ...

    async def spent(self, tenant: str, since: float) -> Spent:
        """What a tenant's turns cost since `since` (epoch seconds)."""
        ...

    async def usage(
        self, start: float, end: float, tenant: str | None = None, key_id: str | None = None
    ) -> list[UsageTotal]:
        """The ledger between `start` and `end`, summed by tenant, key, day and model."""
        ...

    async def buckets(self, start: float, end: float, width: int) -> list[BucketTotal]:
        """The ledger's turns in the `width`-second buckets that start in [floor(start), end),
        summed per bucket, tenant, key, model, service tier and context window; each bucket
        counted whole. Raises BucketWidthUnsupported for a width the ledger does not keep."""
        ...

    async def shared_secret(self, name: str) -> bytes:
        """32 random bytes made on the first call for `name` and kept: every later call, on any
        replica and after a restart, gets the same (what GATEWAY_SECRET_KEY gives when it is set)."""
        ...

    def close(self) -> None: ...

    async def ping(self) -> None:
        """A trivial query; raises if the store cannot be reached (the readiness probe)."""
        ...

    # --- stored responses ---------------------------------------------------------------------
    async def put_response(self, record: ResponseRecord) -> None: ...

    async def get_response(self, response_id: str) -> ResponseRecord | None: ...

    async def delete_response(self, response_id: str) -> None: ...

    async def forget_session(self, session: str) -> None:
        """Drop the messages of the responses a deleted session served (the responses stay)."""
        ...

    async def delete_tenant_responses(self, tenant: str) -> None:
        """Delete every stored response of `tenant` (its key was revoked)."""
        ...

    async def expire_responses(self, before: float) -> None:
        """Forget responses stored before `before` (epoch seconds)."""
        ...
