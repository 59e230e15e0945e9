"""Counting the input tokens of a Messages request (`/v1/messages/count_tokens`).

This asks Anthropic's own count_tokens endpoint directly, not Claude Code: the CLI has no way to
count. That needs an API key; without one (a subscription login) the count is a rough estimate of
4 characters a token, and the caller is told which it got. A caller with their own credential is
counted with their API key, or estimated: the operator's key never serves them.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import httpx

from ..core.credentials import Credential
from ..core.settings import Settings
from .models import ModelCatalog

log = logging.getLogger(__name__)

COUNTED_FIELDS = ("messages", "system", "tools", "tool_choice", "thinking")


class TokenCounter:
    def __init__(self, settings: Settings, catalog: ModelCatalog) -> None:
        self.settings = settings
        self.catalog = catalog

    async def count(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        """Input tokens, and "upstream" (Anthropic's count) or "estimate"."""
        env = {**os.environ, **self.settings.cli_env}
        key = env.get("ANTHROPIC_API_KEY") if credential is None else credential.env().get("ANTHROPIC_API_KEY")
        if key:
            body = {name: payload[name] for name in COUNTED_FIELDS if payload.get(name) is not None}
            body["model"] = await self.catalog.full_id(payload["model"])
            base = env.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    response = await client.post(
                        f"{base}/v1/messages/count_tokens",
                        json=body,
                        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                    )
                if response.status_code == 200:
                    return int(response.json()["input_tokens"]), "upstream"
                log.warning("count_tokens upstream answered %s; estimating", response.status_code)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("count_tokens upstream failed (%s); estimating", exc)
        counted = {name: payload.get(name) for name in ("messages", "system", "tools")}
        return max(1, len(json.dumps(counted, ensure_ascii=False)) // 4), "estimate"
