"""What one key may hold in batches, so that a key cannot fill the runner's queue or the store:

- open batches: at most GATEWAY_BATCH_MAX_OPEN_PER_KEY not ended; one more is refused with 429
  `too_many_open_batches` in the door's envelope (both APIs call their queue limits rate limits,
  answered 429 `rate_limit_error`, which both official clients retry; the batch can be sent again
  once one has ended);
- stored output: a batch's results (Anthropic's, and OpenAI's until they become its output and
  error files) count in the key's files quota (GATEWAY_FILES_QUOTA_MB) with its uploads. A request
  starts only while the key is under its quota; past it, it is `errored` with 413
  `files_quota_exceeded`, as an upload past the quota is refused. One request's answer may pass
  the quota by its own size, not more.
"""

from __future__ import annotations

import asyncio

from ..core.errors import GatewayError, rate_limited
from ..files import Files
from .stores import Storage

RETRY_AFTER = 60  # seconds a client refused for its open batches is told to wait


class Bounds:
    def __init__(self, store: Storage, files: Files, max_open: int, quota_bytes: int) -> None:
        self.store = store
        self.files = files
        self.max_open = max_open
        self.quota_bytes = quota_bytes
        # One create at a time checks and adds (on one replica: two at once cannot both pass).
        self.creating = asyncio.Lock()
        files.others = store.output_bytes  # uploads count the batches' results too

    async def check_open(self, tenant: str) -> None:
        """429 if the key already has its most open batches."""
        count = await self.store.open_count(tenant)
        if count >= self.max_open:
            raise rate_limited(
                f"This key has {count} batches in progress, its most (GATEWAY_BATCH_MAX_OPEN_PER_KEY is "
                f"{self.max_open}): send this one once one has ended, or cancel one.",
                RETRY_AFTER,
                "too_many_open_batches",
            )

    async def check_output(self, tenant: str) -> None:
        """413 if the key's files and batch results already take its files quota."""
        used = await self.files.used(tenant) + await self.store.output_bytes(tenant)
        if used >= self.quota_bytes:
            raise GatewayError(
                413,
                f"This key's files and batch results take {used} bytes, its quota is {self.quota_bytes} "
                "(GATEWAY_FILES_QUOTA_MB): this request was not run. Delete some files or ended batches.",
                "invalid_request_error",
                "files_quota_exceeded",
            )
