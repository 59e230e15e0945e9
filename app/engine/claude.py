"""The engine that runs turns on the Claude Code CLI through the Claude Agent SDK: its lifecycle,
and the facade the rest of the gateway sees (turns, models, credential status, token counts, stats).

What runs where: `engine/turns/router.py` routes each turn onto a process;
`engine/processes/pool.py` owns the processes (limit, spares, eviction); `engine/processes/process.py`
one CLI process; `engine/processes/options.py` what a process starts with; `engine/reading/running.py`
and `engine/reading/reader.py` turn the CLI's messages into events; `models.py` the model names;
`tokens.py` token counting; `core/disk/workdir.py` the folders on disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from pathlib import Path
from typing import Any

from ..core import credentials
from ..core.credentials import Credential
from ..core.disk.workdir import GatewayFolder
from ..core.events import Event
from ..core.redis import RedisLink
from ..core.settings import Settings
from ..core.turn import Turn
from .agent import sandbox
from .interface import ModelInfo
from .models import ModelCatalog
from .processes.options import Spawn, SpawnOptions
from .processes.pool import ProcessPool
from .processes.process import ClaudeProcess
from .reading.failures import CredentialRefusal
from .tokens import TokenCounter
from .transcripts.local import remove_transcripts_under
from .transcripts.redis_store import RedisSessionStore
from .transcripts.replicated import ReplicatedTranscripts
from .turns.conversation import Conversation
from .turns.fork import fork
from .turns.router import TurnRouter
from .wrapper_script import write_launcher

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0


class ClaudeEngine:
    def __init__(self, settings: Settings, shared: RedisLink | None = None) -> None:
        """`shared`: the gateway's Redis, where agent sessions' transcripts go for other replicas."""
        self.settings = settings
        self.catalog = ModelCatalog(settings, self._probe_server_info)
        self.tokens = TokenCounter(settings, self.catalog)
        self.pool = ProcessPool(
            max_live=settings.max_processes,
            memory_budget=settings.memory_budget,
            spares_per_key=settings.spare_processes if settings.warm_processes else 0,
            most_spares_per_key=settings.max_spare_processes,
            warm_keys=settings.warm_option_sets,
            busy_wait=settings.busy_wait,
            connect_timeout=settings.connect_timeout,
            on_spare_dropped=lambda process: shutil.rmtree(process.options.cwd or "", ignore_errors=True),
        )
        self.work = GatewayFolder(Path(settings.work_dir) if settings.work_dir else None)
        self.options = SpawnOptions(settings, self.work)
        transcripts = ReplicatedTranscripts(RedisSessionStore(shared, settings.session_ttl)) if shared else None
        self.router = TurnRouter(settings, self.pool, self.options, self.work, transcripts)
        self._warm_up: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        # A private folder of this process; what dead gateways left behind goes.
        folder = self.work.open(on_dead_sibling=lambda f: remove_transcripts_under(self.settings.config_dir, f))
        self.options.cli_path = write_launcher(folder, self.settings.cli_path)
        # Ask the CLI for its models now, so their names resolve from the first request on.
        self._warm_up = asyncio.create_task(self.catalog.server_info())
        if self.settings.agent_sandbox:  # whether bubblewrap works here: a probe run once, not on a request
            await asyncio.to_thread(sandbox.bubblewrap)

    async def close(self) -> None:
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        for conversation_id in list(self.router.all):
            self.router.end(conversation_id, shutdown=True)
        try:
            await self.pool.close_all(SHUTDOWN_GRACE)
        except asyncio.TimeoutError:
            log.warning("some Claude processes did not exit within %s s of shutdown", SHUTDOWN_GRACE)
        self.options.sandbox.close()
        await self.options.proxy.close()
        self.work.close()

    def ready(self) -> bool:
        """Whether the CLI probe has succeeded; after a failed one, asks again in the background
        (the catalogue waits PROBE_RETRY_AFTER between tries), so a readiness probe never waits."""
        if self.catalog.probed:
            return True
        if self._warm_up is not None and self._warm_up.done():
            self._warm_up = asyncio.create_task(self.catalog.server_info())
        return False

    @property
    def conversations(self) -> dict[str, Conversation]:
        return self.router.all

    @property
    def processes(self) -> set[ClaudeProcess]:
        return self.pool.processes | self.pool.exiting

    async def stream(self, turn: Turn) -> AsyncGenerator[Event, None]:
        try:
            async with aclosing(self.router.stream(turn)) as events:
                async for event in events:
                    yield event
        except CredentialRefusal as refusal:
            if turn.credential is None:
                raise
            raise refusal.for_user(turn.credential) from None  # theirs to act on, not the operator's

    def end_conversation(self, conversation_id: str) -> None:
        """Close the conversation's process and forget its folder and transcripts."""
        self.router.end(conversation_id)

    def fork_conversation(
        self, source: str, target: str, workspace: Path | None = None, source_workspace: Path | None = None
    ) -> None:
        fork(self.router, source, target, workspace, source_workspace)

    def close_idle_processes(self) -> int:
        """Close idle processes, and turns held for results that did not come back in time."""
        timeout = self.settings.process_idle_timeout
        held = self.router.release_stale_held(timeout)
        return held + self.pool.close_idle(timeout, min(timeout, self.settings.one_off_idle_timeout))

    async def list_models(self) -> list[ModelInfo]:
        return await self.catalog.models()

    def resolve_model(self, name: str) -> str | None:
        return self.catalog.resolve(name)

    def known_models(self) -> set[str]:
        return self.catalog.known()

    async def auth_status(self) -> dict[str, Any]:
        """The credential the environment offers, and what the CLI itself reports using."""
        info = await self.catalog.server_info()
        return {
            "credential": credentials.detect(self.settings.config_dir, {**os.environ, **self.settings.cli_env}),
            "claude_code": {
                "reachable": bool(info),
                "version": info.get("claude_code_version"),
                "account": info.get("account"),
            },
        }

    async def count_tokens(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        return await self.tokens.count(payload, credential)

    def stats(self, conversations: Collection[str] | None = None) -> dict[str, Any]:
        """The whole engine's figures, or only those of the given conversations (one tenant's)."""
        if conversations is None:
            return {"conversations": len(self.router.all), "processes": self.pool.stats()}
        return self.router.stats(conversations)

    async def _probe_server_info(self) -> dict[str, Any]:
        """What a freshly initialised CLI says about itself: models and account."""
        cwd = self.work.new_folder()
        try:
            process = await self.router.launch.spawn(Spawn(self.options.isolated(cwd)))
            try:
                return await process.server_info()
            finally:
                self.pool.discard(process)
                await process.wait_closed()
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
