"""The engine that runs turns on the Claude Code CLI through the Claude Agent SDK.

Chat mode: no built-in tools, no host settings, the client's system prompt in place of Claude
Code's, and an empty working folder per conversation that is removed with the conversation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from contextlib import aclosing
from pathlib import Path
from typing import Any, AsyncIterator

from claude_agent_sdk import ClaudeAgentOptions

from ..config import Settings
from ..errors import GatewayError, upstream_error
from . import credentials
from .failures import sdk_exception_error
from .models import ModelCatalog
from .process import ClaudeProcess
from .reader import TurnReader
from .transcript import inline_history, remove_transcripts, write_transcript
from .types import Event, Message, ModelInfo, Turn

log = logging.getLogger(__name__)

RESUME_REFUSED_MARKER = "No conversation found with session ID"
SHUTDOWN_GRACE = 10.0


class _ResumeRefused(Exception):
    """The CLI would not resume the transcript we wrote for the history."""


class ClaudeEngine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = ModelCatalog(settings, self._probe_server_info)
        self.processes: set[ClaudeProcess] = set()

    async def start(self) -> None:
        self.settings.work_root.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        processes = list(self.processes)
        for process in processes:
            process.close(interrupt=True)
        if processes:
            await asyncio.wait_for(
                asyncio.gather(*(p.wait_closed() for p in processes)), SHUTDOWN_GRACE
            )

    async def list_models(self) -> list[ModelInfo]:
        return await self.catalog.models()

    def resolve_model(self, name: str) -> str | None:
        return self.catalog.resolve(name)

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

    # --- turns ------------------------------------------------------------------------------
    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        cwd = self._new_workdir()
        try:
            prompt, resume = turn.prompt, None
            if turn.history and self.settings.history_mode == "transcript":
                resume = write_transcript(self.settings.config_dir, cwd, turn.history)
            elif turn.history:
                prompt = inline_history(turn.history, turn.prompt)
            try:
                async for event in self._run(turn, cwd, prompt, resume):
                    yield event
            except _ResumeRefused:
                log.warning("Claude Code refused the history transcript; sending the history inline")
                async for event in self._run(turn, cwd, inline_history(turn.history, turn.prompt), None):
                    yield event
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
            remove_transcripts(self.settings.config_dir, cwd)

    async def _run(self, turn: Turn, cwd: Path, prompt: Message, resume: str | None) -> AsyncIterator[Event]:
        process = self._spawn(self._options(turn, cwd, resume))
        reader = TurnReader(self.settings.retry_after_default)
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            process.close(interrupt=True)

        timer = asyncio.get_running_loop().call_later(self.settings.request_timeout, expire)
        try:
            try:
                await process.start(self.settings.connect_timeout)
                async with aclosing(process.turn(_user_frame(prompt))) as sdk_messages:
                    async for sdk_message in sdk_messages:
                        for event in reader.feed(sdk_message):
                            yield event
                        if reader.finished:
                            break  # leaving mid-turn interrupts whatever the CLI does next
            except GatewayError as exc:
                if resume and RESUME_REFUSED_MARKER in exc.message and not reader.produced_output:
                    raise _ResumeRefused() from exc
                raise
            except (asyncio.TimeoutError, TimeoutError):
                timed_out = True
            except Exception as exc:
                if resume and RESUME_REFUSED_MARKER in str(exc) and not reader.produced_output:
                    raise _ResumeRefused() from exc
                if not timed_out:
                    raise sdk_exception_error(exc, process.stderr_tail, self.settings.retry_after_default) from exc
            if timed_out:
                raise upstream_error(504, "Claude did not finish the turn in time.", "timeout")
            if not reader.finished:
                raise upstream_error(
                    502, "The Claude Code process ended the turn without a result.", "claude_process_failed"
                )
        finally:
            timer.cancel()
            process.close(interrupt=process.in_turn)

    def _spawn(self, options: ClaudeAgentOptions) -> ClaudeProcess:
        process = ClaudeProcess(options)
        self.processes.add(process)
        process.on_exit(lambda: self.processes.discard(process))
        return process

    def _options(self, turn: Turn, cwd: Path, resume: str | None) -> ClaudeAgentOptions:
        env = self._cli_env()
        if turn.max_output_tokens:
            env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(turn.max_output_tokens)
        return ClaudeAgentOptions(
            tools=[],
            allowed_tools=[],
            setting_sources=[],
            system_prompt=turn.system or "",
            model=turn.model,
            cwd=str(cwd),
            env=env,
            resume=resume,
            include_partial_messages=True,
            cli_path=self.settings.cli_path or None,
        )

    def _cli_env(self) -> dict[str, str]:
        """What every CLI process gets on top of the gateway's own environment."""
        env = dict(self.settings.cli_env)
        if self.settings.claude_config_dir:
            env["CLAUDE_CONFIG_DIR"] = str(self.settings.config_dir)
        return env

    def _new_workdir(self) -> Path:
        path = self.settings.work_root / uuid.uuid4().hex[:16]
        path.mkdir(parents=True)
        return path

    async def _probe_server_info(self) -> dict[str, Any]:
        """What a freshly initialised CLI says about itself: models and account."""
        cwd = self._new_workdir()
        process = self._spawn(
            ClaudeAgentOptions(
                tools=[], setting_sources=[], cwd=str(cwd), cli_path=self.settings.cli_path or None,
                env=self._cli_env(),
            )
        )
        try:
            await process.start(self.settings.connect_timeout)
            return await process.server_info()
        finally:
            process.close()
            await process.wait_closed()
            shutil.rmtree(cwd, ignore_errors=True)


def _user_frame(message: Message) -> dict[str, Any]:
    return {
        "type": "user",
        "message": {"role": "user", "content": message.content},
        "parent_tool_use_id": None,
    }
