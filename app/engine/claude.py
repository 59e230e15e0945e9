"""The engine that runs turns on the Claude Code CLI through the Claude Agent SDK.

Chat mode: no built-in tools, no host settings, the client's system prompt in place of Claude
Code's, and an empty working folder per conversation, removed with the conversation.

A conversation keeps its Claude process connected between turns. For each turn the engine uses,
in this order:
1. the conversation's live process, if Claude already holds exactly the turn's history: only the
   new user message is sent;
2. a new process resuming the conversation's own transcript (the process was evicted or idled
   out): nothing is replayed by the gateway;
3. for a conversation with no history, a warm spare started ahead for the same options;
4. a new process resuming a transcript the gateway writes from the history (real turns).
A turn that fails or is cut short drops the process and what Claude holds, so the next turn
rebuilds from the history the client (or the session) has: nothing half-done is reused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
import uuid
import weakref
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Collection

import httpx
from claude_agent_sdk import ClaudeAgentOptions, ProcessError

from ..config import Settings
from ..errors import GatewayError, upstream_error
from . import credentials
from .failures import sdk_exception_error
from .models import ModelCatalog
from .pool import ProcessPool
from .process import ClaudeProcess
from .reader import TurnReader
from .stops import StopScanner
from .tools import SERVER, ToolBridge, claude_name
from .transcript import inline_history, remove_transcripts, remove_transcripts_under, write_transcript
from .types import Event, Finish, Message, ModelInfo, ToolSpec, Turn, extend_hash
from .workdir import GatewayFolder, write_private

log = logging.getLogger(__name__)

RESUME_REFUSED_MARKER = "No conversation found with session ID"
SHUTDOWN_GRACE = 10.0
SYSTEM_PROMPT_FILE = ".system-prompt"
CONTINUE_AFTER_TOOLS = "(The function results are above; continue.)"


class _ResumeRefused(Exception):
    """The CLI would not resume the transcript it was pointed at."""


@dataclass(frozen=True)
class SpawnKey:
    """What a process is started with and cannot change afterwards."""

    model: str | None
    system: str | None
    max_output_tokens: int | None
    effort: str | None = None
    output_schema: str | None = None  # JSON text of the schema (hashable)
    tools: tuple[ToolSpec, ...] = ()  # the client's functions, as in-process MCP tools
    thinking: str | None = None  # JSON text of the thinking config


@dataclass
class Held:
    """A turn that stopped to call the client's functions; it goes on when the results come."""

    process: ClaudeProcess
    messages: AsyncIterator[Any]  # the turn's SDK messages, not yet read to the end
    reader: TurnReader
    bridge: ToolBridge
    calls: list[list[str]]  # [id, name, JSON arguments] of each call, in order
    since: float = field(default_factory=time.monotonic)


@dataclass
class _Attempt:
    reused: bool = False  # the turn runs on a process that served before (parked, spare, held)


@dataclass
class Conversation:
    id: str
    cwd: Path
    key: SpawnKey | None = None
    holds: str | None = None  # extend_hash of what Claude holds, as served (None: nothing known)
    claude_session: str | None = None  # the CLI's session id, for --resume
    process: ClaudeProcess | None = None
    busy: bool = False
    ran: set[ClaudeProcess] = field(default_factory=set)  # every process in cwd not yet exited
    processes_used: int = 0  # processes that ran its turns (spawned, resumed or a spare it took)
    held: Held | None = None


class ClaudeEngine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = ModelCatalog(settings, self._probe_server_info)
        self.pool = ProcessPool(
            max_live=settings.max_processes,
            spares_per_key=settings.spare_processes if settings.warm_processes else 0,
            warm_keys=settings.warm_option_sets,
            busy_wait=settings.busy_wait,
            connect_timeout=settings.connect_timeout,
            on_spare_dropped=lambda process: shutil.rmtree(process.options.cwd or "", ignore_errors=True),
        )
        self.work = GatewayFolder(Path(settings.work_dir) if settings.work_dir else None)
        self.conversations: dict[str, Conversation] = {}
        self._warm_up: asyncio.Task[Any] | None = None
        # The tool bridge of each process that offers client functions, by id(process.options): the
        # options cannot carry it (the SDK serialises MCP configs for the CLI). An entry lives as long
        # as the options' MCP server; a stale entry under a reused id can only meet a process without
        # tools, which never waits for results, and a new process with tools overwrites it.
        self._bridges: weakref.WeakValueDictionary[int, ToolBridge] = weakref.WeakValueDictionary()

    async def start(self) -> None:
        # A private folder of this process; what dead gateways left behind goes.
        self.work.open(on_dead_sibling=lambda folder: remove_transcripts_under(self.settings.config_dir, folder))
        # Ask the CLI for its models now, so their names resolve from the first request on.
        self._warm_up = asyncio.create_task(self.catalog.server_info())

    async def close(self) -> None:
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        for conversation_id in list(self.conversations):
            self.end_conversation(conversation_id)
        try:
            await self.pool.close_all(SHUTDOWN_GRACE)
        except asyncio.TimeoutError:
            log.warning("some Claude processes did not exit within %s s of shutdown", SHUTDOWN_GRACE)
        self.work.close()

    @property
    def processes(self) -> set[ClaudeProcess]:
        return self.pool.processes | self.pool.exiting

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

    async def count_tokens(self, payload: dict[str, Any]) -> tuple[int, str]:
        """Input tokens of a Messages request: Anthropic's own count when the gateway has an API key
        to ask with ("upstream"), else a rough estimate of 4 characters a token ("estimate")."""
        env = {**os.environ, **self.settings.cli_env}
        key = env.get("ANTHROPIC_API_KEY")
        if key:
            fields = ("messages", "system", "tools", "tool_choice", "thinking")
            body = {name: payload[name] for name in fields if payload.get(name) is not None}
            body["model"] = await self.catalog.full_id(payload["model"])
            base = env.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    response = await client.post(f"{base}/v1/messages/count_tokens", json=body,
                                                 headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
                if response.status_code == 200:
                    return int(response.json()["input_tokens"]), "upstream"
                log.warning("count_tokens upstream answered %s; estimating", response.status_code)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("count_tokens upstream failed (%s); estimating", exc)
        counted = {name: payload.get(name) for name in ("messages", "system", "tools")}
        return max(1, len(json.dumps(counted, ensure_ascii=False)) // 4), "estimate"

    def stats(self, conversations: Collection[str] | None = None) -> dict[str, Any]:
        """The whole engine's figures, or only those of the given conversations (one tenant's)."""
        if conversations is None:
            return {"conversations": len(self.conversations), "processes": self.pool.stats()}
        mine = [self.conversations[c] for c in conversations if c in self.conversations]
        running = [process for conversation in mine for process in conversation.ran]
        return {
            "conversations": len(mine),
            "processes": {
                "live": sum(1 for process in running if process.alive),
                "exiting": sum(1 for process in running if not process.alive),
                "spawned_total": sum(conversation.processes_used for conversation in mine),
            },
        }

    # --- conversations --------------------------------------------------------------------------
    def end_conversation(self, conversation_id: str) -> None:
        """Close the conversation's process and forget its folder and transcripts."""
        conversation = self.conversations.pop(conversation_id, None)
        if conversation is None:
            return

        def remove_files() -> None:
            shutil.rmtree(conversation.cwd, ignore_errors=True)
            remove_transcripts(self.settings.config_dir, conversation.cwd)

        if conversation.held is not None:
            conversation.held.bridge.cancel()
        if conversation.process is not None:
            self.pool.discard(conversation.process, interrupt=True)
        remove_files()
        for process in list(conversation.ran):  # an interrupted CLI still writes its transcript
            process.on_exit(remove_files)

    def close_idle_processes(self) -> int:
        """Close idle processes, and turns held for results that did not come back in time."""
        timeout = self.settings.process_idle_timeout
        stale = [c for c in self.conversations.values()
                 if c.held is not None and not c.busy and time.monotonic() - c.held.since > timeout]
        for conversation in stale:
            self._release_held(conversation)
        return len(stale) + self.pool.close_idle(timeout)

    def _release_held(self, conversation: Conversation) -> None:
        if conversation.held is not None:
            conversation.held.bridge.cancel()
            conversation.held = None
            self._drop_process(conversation)

    def _conversation(self, conversation_id: str | None) -> Conversation:
        if conversation_id and conversation_id in self.conversations:
            return self.conversations[conversation_id]
        conversation = Conversation(conversation_id or f"once-{uuid.uuid4().hex}", self._new_workdir())
        self.conversations[conversation.id] = conversation
        return conversation

    # --- turns ------------------------------------------------------------------------------
    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        conversation = self._conversation(turn.conversation_id)
        if conversation.busy:
            raise GatewayError(409, "This conversation is already in a turn.", "invalid_request_error", "conversation_busy")
        conversation.busy = True
        key = SpawnKey(
            turn.model, turn.system, turn.max_output_tokens, turn.effort,
            json.dumps(turn.output_schema, sort_keys=True) if turn.output_schema else None,
            turn.tools,
            json.dumps(turn.thinking, sort_keys=True) if turn.thinking else None,
        )
        history_hash = turn.history_hash if turn.history_hash is not None else extend_hash("", turn.history)
        try:
            yielded = False
            attempt = _Attempt()
            try:
                async with aclosing(self._attempt(conversation, key, turn, history_hash, attempt)) as events:
                    async for event in events:
                        yielded = True
                        yield event
            except GatewayError as error:
                # A reused process (parked, spare, held) that died before it said anything: once more
                # on a fresh one, rebuilt from the history. Claude had produced nothing to lose.
                if yielded or not attempt.reused or error.code != "claude_process_failed":
                    raise
                log.warning("a reused Claude process failed before any output (%s); retrying on a fresh one", error)
                async with aclosing(self._attempt(conversation, key, turn, history_hash, _Attempt())) as events:
                    async for event in events:
                        yield event
        finally:
            conversation.busy = False
            if not self.settings.warm_processes or turn.conversation_id is None:
                self.end_conversation(conversation.id)

    async def _attempt(
        self, conversation: Conversation, key: SpawnKey, turn: Turn, history_hash: str, attempt: _Attempt
    ) -> AsyncIterator[Event]:
        holds_history = conversation.key == key and conversation.holds == history_hash
        held = conversation.held
        conversation.held = None
        results = _results_for(held.calls, turn.prompt) if held is not None and holds_history else None
        if held is not None and (results is None or not held.process.alive):
            conversation.held = held
            self._release_held(conversation)  # the client went elsewhere, or the CLI died: rebuild
            held, holds_history = None, False
        if not holds_history and conversation.process is not None:
            self._drop_process(conversation)
        if not holds_history:
            conversation.claude_session = None
        self.pool.activity()
        if held is not None:  # the held turn goes on with the client's results
            process, reader, sdk_messages = held.process, held.reader, held.messages
            attempt.reused = True
            self.pool.unpark(process)
            for (_, name, _), result in zip(held.calls, results or []):
                held.bridge.deliver(name, result)
            reader.continue_after_tools()
        else:
            process, prompt = await self._process_for(conversation, key, turn, attempt)
            reader = TurnReader(self.settings.retry_after_default, structured=turn.output_schema is not None)
            sdk_messages = process.turn(_user_frame(prompt))
        conversation.process, conversation.key, conversation.holds = process, key, None
        if process not in conversation.ran:
            conversation.processes_used += 1
            conversation.ran.add(process)
            process.on_exit(lambda: conversation.ran.discard(process))
        if self.settings.warm_processes and not turn.history:
            self.pool.keep_warm(key, lambda: self._options(key, self._new_workdir(), None))

        finish: Finish | None = None
        try:
            stops = StopScanner(turn.stop) if turn.stop else None
            async with aclosing(self._run(process, sdk_messages, reader, stops)) as events:
                async for event in events:
                    if isinstance(event, Finish):
                        finish = event
                    yield event
        finally:
            bridge = self._bridges.get(id(process.options))
            if finish is not None and reader.awaiting_tools and bridge is not None and process.alive:
                conversation.holds = extend_hash(history_hash, [turn.prompt, finish.message])
                conversation.held = Held(process, sdk_messages, reader, bridge,
                                         [reader.tool_calls[i] for i in sorted(reader.tool_calls)])
                # Evictable and idle-closed like any parked process, so held turns whose results
                # never come cannot fill the gateway.
                self.pool.park(process, lambda: self._release_held(conversation))
            else:
                await sdk_messages.aclose()  # type: ignore[attr-defined]
                if finish is not None and reader.completed_cleanly and process.alive:
                    conversation.holds = extend_hash(history_hash, [turn.prompt, finish.message])
                    conversation.claude_session = reader.session_id
                    self.pool.park(process, lambda: self._forget_process(conversation))
                else:  # failed, cut short or cancelled: start over from the history next time
                    self._drop_process(conversation)

    async def _process_for(
        self, conversation: Conversation, key: SpawnKey, turn: Turn, attempt: _Attempt
    ) -> tuple[ClaudeProcess, Message]:
        """The process to run the turn on, and what to send it (see the module docstring)."""
        if conversation.process is not None and conversation.process.alive:
            self.pool.unpark(conversation.process)
            attempt.reused = True
            return conversation.process, turn.prompt
        if conversation.process is not None:  # it died since the last turn: resume its transcript
            self._forget_process(conversation)
        if conversation.claude_session is not None:
            try:
                return await self._resume(conversation, key, conversation.claude_session), turn.prompt
            except _ResumeRefused:
                log.warning("Claude Code lost conversation %s; rebuilding it from the history", conversation.id)
        if not turn.history:
            spare = await self._spare(key)
            if spare is not None:
                self._adopt_workdir(conversation, spare)
                attempt.reused = True
                return spare, turn.prompt
            return await self._spawn(self._options(key, conversation.cwd, None)), turn.prompt
        if self.settings.history_mode == "transcript":
            history, prompt = turn.history, turn.prompt
            results = [b for b in prompt.content if b.get("type") == "tool_result"]
            if results:
                # A resumed transcript that ends with an unanswered tool_use is "repaired" by the CLI
                # with an interrupted-call error, and the results sent after it are lost; so the
                # results go into the transcript, and the rest (or a short message) goes on.
                rest = [b for b in prompt.content if b.get("type") != "tool_result"]
                history = [*history, Message("user", results)]
                prompt = Message("user", rest or [{"type": "text", "text": CONTINUE_AFTER_TOOLS}])
            session = write_transcript(self.settings.config_dir, conversation.cwd, _with_claude_names(history))
            try:
                return await self._resume(conversation, key, session), prompt
            except _ResumeRefused:
                log.warning("Claude Code refused the history transcript; sending the history inline")
        process = await self._spawn(self._options(key, conversation.cwd, None))
        return process, inline_history(turn.history, turn.prompt)

    async def _spare(self, key: SpawnKey) -> ClaudeProcess | None:
        """A warm spare for `key`, waiting for it if it is still starting; None if there is none."""
        spare = self.pool.take_spare(key) if self.settings.warm_processes else None
        if spare is None:
            return None
        try:
            await spare.ready(self.settings.connect_timeout)
        except Exception as exc:
            log.warning("a spare Claude process failed to start (%s); starting another", exc)
            return None
        return spare

    async def _spawn(self, options: ClaudeAgentOptions) -> ClaudeProcess:
        try:
            return await self.pool.spawn(options)
        except GatewayError:
            raise
        except asyncio.TimeoutError as exc:
            raise upstream_error(
                504, f"The Claude Code process did not start within {self.settings.connect_timeout:g} s.",
                "claude_start_timeout",
            ) from exc
        except Exception as exc:
            if options.resume and RESUME_REFUSED_MARKER in str(exc):
                raise _ResumeRefused() from exc
            raise sdk_exception_error(exc, "", self.settings.retry_after_default) from exc

    async def _resume(self, conversation: Conversation, key: SpawnKey, session: str) -> ClaudeProcess:
        return await self._spawn(self._options(key, conversation.cwd, session))

    async def _run(
        self, process: ClaudeProcess, sdk_messages: AsyncIterator[Any], reader: TurnReader, stops: StopScanner | None
    ) -> AsyncIterator[Event]:
        """The events of the turn's SDK messages, until the turn ends or waits for the client."""
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            process.close(interrupt=True)

        timer = asyncio.get_running_loop().call_later(self.settings.request_timeout, expire)
        try:
            async for sdk_message in sdk_messages:
                for event in reader.feed(sdk_message):
                    for out in stops.filter(event, reader.usage_so_far(), reader.model) if stops else [event]:
                        yield out
                if reader.finished or (stops and stops.hit):
                    break  # closing the messages then interrupts whatever the CLI does next
        except Exception as exc:
            # After a timeout the CLI reports the interrupt as a failed turn: the timeout is the news.
            if not timed_out:
                if isinstance(exc, GatewayError):
                    raise
                raise sdk_exception_error(exc, process.stderr_tail, self.settings.retry_after_default) from exc
        finally:
            timer.cancel()
        if timed_out:
            raise upstream_error(504, "Claude did not finish the turn in time.", "timeout")
        if not reader.finished and not (stops and stops.hit):
            if process.died:  # the owner saw it exit and closed the pipes before the SDK could say so
                exited = ProcessError("The Claude Code process exited", exit_code=None)
                raise sdk_exception_error(exited, process.stderr_tail, self.settings.retry_after_default)
            raise upstream_error(502, "The Claude Code process ended the turn without a result.", "claude_process_failed")

    def _drop_process(self, conversation: Conversation) -> None:
        if conversation.process is not None:
            self.pool.discard(conversation.process, interrupt=conversation.process.in_turn)
        self._forget_process(conversation)
        conversation.holds, conversation.claude_session = None, None

    def _forget_process(self, conversation: Conversation) -> None:
        """The process is gone (evicted, idled out); the transcript still lets the CLI resume."""
        conversation.process = None

    def _adopt_workdir(self, conversation: Conversation, process: ClaudeProcess) -> None:
        """A spare was started in a folder of its own; the conversation moves in there, and its
        old folder goes with the transcripts written in it (a failed first turn's), also those
        that a process still exiting writes."""
        old = conversation.cwd

        def remove_old() -> None:
            shutil.rmtree(old, ignore_errors=True)
            remove_transcripts(self.settings.config_dir, old)

        remove_old()
        for earlier in list(conversation.ran):  # every one of them ran in the old folder
            earlier.on_exit(remove_old)
        conversation.cwd = Path(process.options.cwd or conversation.cwd)

    def _options(self, key: SpawnKey, cwd: Path, resume: str | None) -> ClaudeAgentOptions:
        env = self._cli_env()
        if key.max_output_tokens:
            env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(key.max_output_tokens)
        # From a file, not the command line: argv is size-limited (128 KiB an argument) and
        # readable by every local user through ps.
        prompt_file = cwd / SYSTEM_PROMPT_FILE
        prompt_file.unlink(missing_ok=True)  # an earlier process's (resumed conversations); read at its start
        write_private(prompt_file, key.system or "")
        bridge = ToolBridge(key.tools) if key.tools else None
        options = self._isolated(
            cwd, env,
            allowed_tools=bridge.allowed if bridge else [],
            mcp_servers={SERVER: bridge.server} if bridge else {},
            system_prompt={"type": "file", "path": str(prompt_file)},
            model=key.model,
            resume=resume,
            include_partial_messages=True,
            effort=key.effort,  # type: ignore[arg-type]
            output_format={"type": "json_schema", "schema": json.loads(key.output_schema)} if key.output_schema else None,
            thinking=json.loads(key.thinking) if key.thinking else None,  # type: ignore[arg-type]
        )
        if bridge is not None:
            self._bridges[id(options)] = bridge  # the MCP server in the options keeps the bridge alive
        return options

    def _isolated(self, cwd: Path, env: dict[str, str] | None = None, **options: Any) -> ClaudeAgentOptions:
        """Options for every process the engine starts (conversations, spares, the model probe):
        no built-in tools, no host settings or CLAUDE.md, and no MCP server but the ones passed
        here. Leaving out setting sources does not skip the host's MCP servers by the CLI's own
        help (user and project config, claude.ai connectors of a subscription login, plugins);
        --strict-mcp-config does."""
        return ClaudeAgentOptions(
            tools=[], setting_sources=[], strict_mcp_config=True, cwd=str(cwd),
            cli_path=self.settings.cli_path or None, env=self._cli_env() if env is None else env, **options,
        )

    def _cli_env(self) -> dict[str, str]:
        """What every CLI process gets on top of the gateway's own environment."""
        env = dict(self.settings.cli_env)
        if self.settings.claude_config_dir:
            env["CLAUDE_CONFIG_DIR"] = str(self.settings.config_dir)
        return env

    def _new_workdir(self) -> Path:
        return self.work.new_folder()

    async def _probe_server_info(self) -> dict[str, Any]:
        """What a freshly initialised CLI says about itself: models and account."""
        cwd = self._new_workdir()
        try:
            process = await self._spawn(self._isolated(cwd))
            try:
                return await process.server_info()
            finally:
                self.pool.discard(process)
                await process.wait_closed()
        finally:
            shutil.rmtree(cwd, ignore_errors=True)


def _results_for(calls: list[list[str]], prompt: Message) -> list[str] | None:
    """The client's result for each held call, if the prompt is exactly those results."""
    results: dict[str, str] = {}
    for block in prompt.content:
        if block.get("type") != "tool_result":
            return None
        content = block.get("content")
        results[block.get("tool_use_id", "")] = content if isinstance(content, str) else json.dumps(content)
    if set(results) != {call_id for call_id, _, _ in calls}:
        return None
    return [results[call_id] for call_id, _, _ in calls]


def _with_claude_names(messages: list[Message]) -> list[Message]:
    """History for Claude: the client's functions under the names Claude knows them by."""
    return [
        Message(m.role, [{**b, "name": claude_name(b["name"])} if b.get("type") == "tool_use" else b for b in m.content])
        for m in messages
    ]


def _user_frame(message: Message) -> dict[str, Any]:
    return {
        "type": "user",
        "message": {"role": "user", "content": message.content},
        "parent_tool_use_id": None,
    }
