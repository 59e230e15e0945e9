"""Conversations and the routing of their turns onto Claude Code processes.

A conversation keeps its Claude process connected between turns. For each turn, in this order:
1. the conversation's live process, if Claude already holds exactly the turn's history: only the
   new user message is sent (for a turn held for the client's function results, the results);
2. a new process resuming the conversation's own transcript (the process was evicted, idled out
   or died; or, with Redis, an agent session's transcript that another replica ran, see
   engine/transcripts/replicated.py): nothing is replayed by the gateway;
3. for a conversation with no history, a warm spare started ahead for the same options;
4. a new process resuming a transcript the gateway writes from the history (real turns).
A conversation runs under one credential (the caller's own, or the operator's): its processes
and transcripts are that credential's. A turn under another credential starts it over, from
the history the turn carries (the session layer refuses a named session that would do so).
A turn that fails or is cut short drops the process and what Claude holds, so the next turn
rebuilds from the history the client (or the session) has: nothing half-done is reused. A turn
whose reused process fails before producing anything runs once more on a fresh process.

The caller runs one turn at a time per conversation (the session lock); one-off turns
(`conversation_id` None) get a conversation of their own, ended with the turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from typing import Any

from ...core.disk.workdir import GatewayFolder
from ...core.errors import GatewayError
from ...core.events import Event, Finish, ToolList, ToolResult, Usage
from ...core.hosted import MCP
from ...core.messages import extend_hash
from ...core.prices import prompt_tokens
from ...core.settings import Settings
from ...core.turn import HELD, Turn
from ..processes.options import SpawnKey, SpawnOptions
from ..processes.pool import ProcessPool
from ..processes.tools import results_for
from ..reading.reader import TurnReader
from ..reading.running import TurnMessages
from ..transcripts.local import latest_session
from ..transcripts.replicated import ReplicatedTranscripts
from .conversation import Conversation, Held, count_cost, user_frame
from .forcing import Run, answer_events
from .placement import Attempt, Launcher, forget_process

log = logging.getLogger(__name__)


def cut_short(reader: TurnReader, turn: Turn, left: bool) -> Usage:
    """What a turn that ended without a result is charged: what it streamed; and when its client
    `left` after the CLI had begun it but before any model call said a word (a client gone right
    after its body), its prompt, estimated: that call reached Claude, whose input is billed all
    the same. (A call that failed upstream is not billed: nothing then.)"""
    used = reader.consumed()
    if used == Usage() and reader.heard and left:
        return Usage(input_tokens=prompt_tokens(turn))
    return used


class TurnRouter:
    """The engine's conversations, and which process runs each of their turns (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        pool: ProcessPool,
        options: SpawnOptions,
        work: GatewayFolder,
        transcripts: ReplicatedTranscripts | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.options = options
        self.work = work
        self.transcripts = transcripts  # agent sessions' transcripts in Redis, for other replicas
        self.launch = Launcher(settings, pool, options, transcripts)
        self.all: dict[str, Conversation] = {}

    # --- life ---------------------------------------------------------------------------------
    def end(self, conversation_id: str, shutdown: bool = False) -> None:
        """Close the conversation's process and forget its folder and transcripts; at a shutdown,
        an agent workspace and its transcripts stay, for the session to resume after a restart."""
        conversation = self.all.pop(conversation_id, None)
        if conversation is None:
            return

        # A held turn's process is interrupted and closed; its calls are not answered first: an
        # answered (failed) call makes Claude Code ask Claude again before the interrupt lands.
        if conversation.process is not None:
            self.pool.discard(conversation.process, interrupt=True)
        if not (shutdown and conversation.workspace):
            conversation.remove_folder(conversation.cwd)

    def release_stale_held(self, timeout: float) -> int:
        """Turns held for results that did not come back within `timeout`: their processes go."""
        stale = [c for c in self.all.values() if c.held is not None and time.monotonic() - c.held.since > timeout]
        for conversation in stale:
            self._release_held(conversation)
        return len(stale)

    def stats(self, conversations: Collection[str]) -> dict[str, Any]:
        """The figures of the given conversations (one tenant's)."""
        mine = [self.all[c] for c in conversations if c in self.all]
        running = [process for conversation in mine for process in conversation.ran]
        return {
            "conversations": len(mine),
            "processes": {
                "live": sum(1 for process in running if process.alive),
                "exiting": sum(1 for process in running if not process.alive),
                "spawned_total": sum(conversation.processes_used for conversation in mine),
            },
        }

    # --- turns --------------------------------------------------------------------------------
    async def stream(self, turn: Turn) -> AsyncGenerator[Event, None]:
        conversation = self._conversation(turn)
        key = SpawnKey.of(turn)
        history_hash = turn.history_hash if turn.history_hash is not None else extend_hash("", turn.history)
        if conversation.key is None and conversation.workspace and not turn.history:
            # An agent session from before a restart: Claude Code's transcript in its workspace goes on.
            resume = latest_session(conversation.config_dir, conversation.cwd)
            if resume is not None:
                conversation.key, conversation.holds, conversation.claude_session = key, history_hash, resume
        elif (
            self.transcripts is not None
            and turn.history
            and (conversation.key, conversation.holds) != (key, history_hash)
        ):
            # Another replica may have run the history: Claude Code's transcript of it, from Redis.
            resume = await self.transcripts.restore(conversation, key, history_hash)
            if resume is not None:
                conversation.held = None
                self._drop_process(conversation)
                conversation.key, conversation.holds, conversation.claude_session = key, history_hash, resume
        try:
            yielded = False
            attempt = Attempt()
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
                async with aclosing(self._attempt(conversation, key, turn, history_hash, Attempt())) as events:
                    async for event in events:
                        yield event
        finally:
            if not self.settings.warm_processes or turn.conversation_id is None:
                self.end(conversation.id)

    def _conversation(self, turn: Turn) -> Conversation:
        conversation_id, credential = turn.conversation_id, turn.credential
        if conversation_id and conversation_id in self.all:
            known = self.all[conversation_id]
            if known.credential == credential and (turn.workspace is None or known.cwd == turn.workspace):
                return known
            # never another credential's process or transcript; an agent turn moves into its workspace
            self.end(conversation_id, shutdown=known.workspace)
        # Agent mode: the session's workspace (or a folder of the turn's own), and a config folder
        # of its own for Claude Code (engine/processes/options.py), whatever the credential.
        cwd = turn.workspace or self.work.new_folder()
        config_dir = self.options.agent_config_dir(cwd) if turn.agent else self.options.config_dir(credential)
        conversation = Conversation(
            conversation_id or f"once-{uuid.uuid4().hex}",
            cwd,
            config_dir,
            credential,
            workspace=turn.workspace is not None,
            own_config=turn.agent is not None,
        )
        self.all[conversation.id] = conversation
        return conversation

    async def _attempt(
        self, conversation: Conversation, key: SpawnKey, turn: Turn, history_hash: str, attempt: Attempt
    ) -> AsyncGenerator[Event, None]:
        holds_history = conversation.key == key and conversation.holds == history_hash
        held = conversation.held
        conversation.held = None
        results = results_for(held.calls, turn.prompt) if held is not None and holds_history else None
        if held is not None and (results is None or not held.process.alive):
            conversation.held = held
            self._release_held(conversation)  # the client went elsewhere, or the CLI died: rebuild
            held, holds_history = None, False
        if not holds_history and conversation.process is not None:
            self._drop_process(conversation)
        if not holds_history:
            conversation.claude_session = None
        if held is not None:  # the held turn goes on with the client's results
            process, reader, sdk_messages = held.process, held.reader, held.messages
            attempt.reused = True
            self.pool.unpark(process)
            for call_id, result in (results or {}).items():
                if process.bridge is not None:
                    process.bridge.deliver(reader.calls.cli_ids.get(call_id, call_id), result)
            reader.continue_after_tools(turn.legacy_call_id)
        else:
            process, prompt = await self.launch.process_for(conversation, key, turn, attempt)
            asks = process.prompts.asks if process.prompts else None
            reader = TurnReader.for_turn(turn, self.settings.retry_after_default, asks)
            sdk_messages = TurnMessages(process.turn(user_frame(prompt)))
        conversation.process, conversation.key, conversation.holds = process, key, None
        process.tenant = turn.tenant
        if process not in conversation.ran:
            conversation.processes_used += 1
            conversation.ran.add(process)
            process.on_exit(lambda: conversation.ran.discard(process))
        # No spares for remote MCP servers: a spare would connect to the client's server unasked.
        if self.settings.warm_processes and not turn.history and key.agent is None and not key.hosted.mcp:
            self.pool.keep_warm(
                key.for_spares(), lambda: self.options.for_key(key, self.work.new_folder(), None, spare=True)
            )

        finish: Finish | None = None
        left = listed = False
        run = Run(reader, sdk_messages)
        timeout, retry_after = self.settings.request_timeout, self.settings.retry_after_default
        try:
            async with aclosing(answer_events(process, run, turn, timeout, retry_after)) as events:
                async for event in events:
                    if key.hosted.mcp and not listed:  # what Claude Code listed, before any output
                        listed = True
                        for listing in self._tool_lists(key):
                            yield listing
                    if isinstance(event, ToolResult) and event.hosted == MCP:
                        event.output = self._remote_output(key, event) or event.output
                    if isinstance(event, Finish):
                        finish = event
                        count_cost(process, event)
                        if self.transcripts is not None and run.clean:  # before the client hears of it
                            holds = extend_hash(history_hash, [turn.prompt, event.message])
                            await self.transcripts.mark(conversation, key, event.claude_session, holds)
                    yield event
        except (GeneratorExit, asyncio.CancelledError):
            left = True  # the client left (not a failure: an upstream error is not billed)
            raise
        finally:
            reader, sdk_messages = run.reader, run.messages
            if finish is None and turn.on_partial_usage is not None:
                turn.on_partial_usage(cut_short(reader, turn, left), reader.model)
            if run.corrected and not reader.awaiting_tools:
                finish = None  # Claude holds a correction the client never saw: rebuild next time
            if finish is not None and reader.awaiting_tools and process.bridge is not None and process.alive:
                conversation.holds = extend_hash(history_hash, [turn.prompt, finish.message])
                conversation.held = Held(
                    process, sdk_messages, reader, [reader.tool_calls[i] for i in sorted(reader.tool_calls)]
                )
                # Evictable and idle-closed like any parked process, so held turns whose results
                # never come cannot fill the gateway.
                self.pool.park(process, lambda: self._release_held(conversation), HELD)
            else:
                await sdk_messages.aclose()
                if finish is not None and reader.completed_cleanly and process.alive:
                    conversation.holds = extend_hash(history_hash, [turn.prompt, finish.message])
                    conversation.claude_session = reader.session_id
                    self.pool.park(process, lambda: forget_process(conversation), turn.worth)
                else:  # failed, cut short or cancelled: start over from the history next time
                    self._drop_process(conversation)

    def _tool_lists(self, key: SpawnKey) -> list[ToolList]:
        """The tools of each remote MCP server, as the proxy saw Claude Code list them."""
        found = [(server.label, self.options.proxy.tools(server)) for server in key.hosted.mcp]
        unlisted = "Claude Code could not list the MCP server's tools (it did not answer, or refused)."
        return [ToolList(label, tools or [], None if tools is not None else unlisted) for label, tools in found]

    def _remote_output(self, key: SpawnKey, result: ToolResult) -> str | None:
        """A remote server's call's text, as the server gave it."""
        server = next((s for s in key.hosted.mcp if s.label == result.server), None)
        return self.options.proxy.output(server, result.id) if server is not None else None

    def _release_held(self, conversation: Conversation) -> None:
        """The results of a held turn will not come: its process is interrupted and closed (its
        calls are not answered first, see `end`)."""
        if conversation.held is not None:
            conversation.held = None
            self._drop_process(conversation)

    def _drop_process(self, conversation: Conversation) -> None:
        if conversation.process is not None:
            self.pool.discard(conversation.process, interrupt=conversation.process.in_turn)
        conversation.process = None
        conversation.holds, conversation.claude_session = None, None
