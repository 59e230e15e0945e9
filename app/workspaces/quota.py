"""The workspace quota for what Claude Code's tools write (uploads are checked as they arrive:
workspaces.py). A 30 MB file written by Bash on a 1 MB quota was kept before this.

A hard limit on the folder itself would need a size-limited mount (a loop-mounted image, a tmpfs
bound into the sandbox) or project quotas: root's tools, and not what a gateway run by a plain
user can set up (this disk has no prjquota either). So the gateway measures instead: before an
agent turn, and after each tool result the turn reports, it adds up the key's workspaces. Past
the quota the turn ends with 413 `workspace_quota_exceeded` (an error event once the stream has
begun), which stops Claude Code's turn; the files stay where they are, and the key's agent turns
are refused the same way until files or sessions are deleted (DELETE /v1/sessions/{id}/files/
{path}, DELETE /v1/sessions/{id}). A single tool call can still write past the quota before the
measure; what it wrote is then the client's to download or delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from ..core.errors import GatewayError
from ..core.events import Event, ToolResult
from ..tenancy.auth import Tenant
from .workspaces import MB, Workspaces


def tools_past_quota(used: int, limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"This key's workspaces hold {used} bytes, past their quota of {limit} bytes ({limit / MB:g} MB): "
        "the agent turn was stopped, and the key's agent turns are refused until files or sessions "
        "are deleted (DELETE /v1/sessions/{id}/files/{path}, DELETE /v1/sessions/{id}).",
        "invalid_request_error",
        "workspace_quota_exceeded",
    )


async def check(workspaces: Workspaces, tenant: Tenant) -> None:
    """413 if the tenant's workspaces hold more than its quota."""
    limit = workspaces.quota(tenant)
    used = await asyncio.to_thread(workspaces.usage, tenant.id)
    if used > limit:
        raise tools_past_quota(used, limit)


async def within_quota(
    events: AsyncGenerator[Event, None], workspaces: Workspaces, tenant: Tenant
) -> AsyncGenerator[Event, None]:
    """An agent turn's events, measured against the tenant's quota before the turn and after each
    tool result; past it, 413. Closing this closes `events`, which stops Claude Code's turn."""
    async with aclosing(events):
        await check(workspaces, tenant)
        async for event in events:
            yield event
            if isinstance(event, ToolResult):
                await check(workspaces, tenant)
