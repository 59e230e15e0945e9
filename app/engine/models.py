"""Which model names the gateway serves, and what the CLI is given for each.

Served: the aliases and full ids Claude Code reports in its initialize answer (probed once), any
`claude-...` id, and the configured aliases for tools that hard-code OpenAI names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.errors import model_not_found
from ..core.settings import Settings
from .interface import EFFORT_LEVELS, ModelInfo

log = logging.getLogger(__name__)

# Used until (or if never) the CLI has been asked: the aliases every Claude Code version takes.
BUILTIN_ALIASES = {"default": "Default", "sonnet": "Sonnet", "opus": "Opus", "haiku": "Haiku"}
PROBE_RETRY_AFTER = 60.0  # seconds before asking the CLI again after a failed probe


class ModelCatalog:
    def __init__(self, settings: Settings, probe: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.settings = settings
        self._probe = probe
        self._info: dict[str, Any] | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def probed(self) -> bool:
        """Whether the CLI has answered the probe."""
        return self._info is not None

    async def server_info(self) -> dict[str, Any]:
        """The CLI's initialize answer (cached); empty if the CLI could not be started."""
        async with self._lock:
            if self._info is not None:
                return self._info
            if self._failed_at and time.monotonic() - self._failed_at < PROBE_RETRY_AFTER:
                return {}
            try:
                self._info = await self._probe()
                return self._info
            except Exception as exc:  # the catalogue still works with built-in aliases
                log.warning("could not ask Claude Code for its models: %s", exc)
                self._failed_at = time.monotonic()
                return {}

    async def models(self) -> list[ModelInfo]:
        info = await self.server_info()
        found: dict[str, ModelInfo] = {}
        reported = info.get("models") or [
            {"value": alias, "displayName": name} for alias, name in BUILTIN_ALIASES.items()
        ]
        for entry in reported:
            name = entry.get("displayName") or entry["value"]
            efforts = (
                tuple(entry.get("supportedEffortLevels") or EFFORT_LEVELS) if entry.get("supportsEffort", True) else ()
            )
            for model in (entry["value"], entry.get("resolvedModel")):
                if model:
                    found.setdefault(model, ModelInfo(model, name, efforts=efforts))
        for alias, target in self.settings.model_alias_map.items():
            found.setdefault(alias, ModelInfo(alias, f"{alias} (served by {target})"))
        return list(found.values())

    async def full_id(self, name: str) -> str:
        """The full claude- id behind a served name (aliases resolved as the CLI reports them)."""
        target = self.resolve(name) or "default"
        for entry in (await self.server_info()).get("models") or []:
            if entry["value"] == target and entry.get("resolvedModel"):
                return str(entry["resolvedModel"])
        return target

    def known(self) -> set[str]:
        """The model names Claude Code reported (its aliases and full ids), or the built-in
        aliases until it has: what resolve() passes besides any `claude-` id."""
        known = set(BUILTIN_ALIASES)
        if self._info:
            for entry in self._info.get("models") or []:
                known.add(entry["value"])
                if entry.get("resolvedModel"):
                    known.add(entry["resolvedModel"])
        return known

    def resolve(self, name: str) -> str | None:
        """The --model value for a requested model name; None means the CLI's default.

        Raises 404 model_not_found for a name the gateway does not serve.
        """
        target = self.settings.model_alias_map.get(name, name)
        if target not in self.known() and not target.startswith("claude-"):
            raise model_not_found(name)
        return None if target == "default" else target
