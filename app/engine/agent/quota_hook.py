"""A PostToolUse hook that stops an agent turn once its tools took the key's workspaces past their
quota (app/workspaces/quota.py has the why and the rest).

The gateway also measures after each tool result it reads, but by then Claude Code has already
asked Claude for the next step, and a fast next command could run before the turn is closed. The
hook runs inside Claude Code's own turn, between the tool and the next step, so the turn stops
right there: `continue: false` (the measure is the same, of the tenant's folder of workspaces).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ...core.disk import tree


class QuotaHook:
    def __init__(self, tenant_folder: Path, quota: int) -> None:
        self.tenant_folder, self.quota = tenant_folder, quota

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        # All the tenant's workspaces, measured as the gateway's own measure does (tree.size).
        total = await asyncio.to_thread(tree.size, self.tenant_folder)
        if total <= self.quota:
            return {}
        return {
            "continue_": False,
            "stopReason": f"The workspaces hold {total} bytes, past their quota of {self.quota} bytes.",
        }
