"""Which process runs a conversation's turn when the one it has does not hold its history: cases
2-4 of router.py's docstring (its own transcript resumed, a warm spare, or a transcript written
from the history), and the spawning of a process, with start-up failures as gateway errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import GatewayError
from ...core.messages import Message
from ...core.settings import Settings
from ...core.turn import Turn
from ..processes.options import Spawn, SpawnKey, SpawnOptions
from ..processes.pool import ProcessPool
from ..processes.process import ClaudeProcess
from ..reading.failures import start_error
from ..transcripts.local import inline_history, resumable, write_transcript
from ..transcripts.replicated import ReplicatedTranscripts, TranscriptMirror
from .conversation import Conversation

log = logging.getLogger(__name__)

RESUME_REFUSED_MARKER = "No conversation found with session ID"


class ResumeRefused(Exception):
    """The CLI would not resume the transcript it was pointed at."""


@dataclass
class Attempt:
    reused: bool = False  # the turn runs on a process that served before (parked, spare, held)


class Launcher:
    def __init__(
        self, settings: Settings, pool: ProcessPool, options: SpawnOptions, transcripts: ReplicatedTranscripts | None
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.options = options
        self.transcripts = transcripts

    async def process_for(
        self, conversation: Conversation, key: SpawnKey, turn: Turn, attempt: Attempt
    ) -> tuple[ClaudeProcess, Message]:
        """The process to run the turn on, and what to send it (see the module docstring)."""
        if conversation.process is not None and conversation.process.alive:
            self.pool.unpark(conversation.process)
            attempt.reused = True
            return conversation.process, turn.prompt
        if conversation.process is not None:  # it died since the last turn: resume its transcript
            forget_process(conversation)
        if conversation.claude_session is not None:
            try:
                return await self._resume(conversation, key, conversation.claude_session), turn.prompt
            except ResumeRefused:
                log.warning("Claude Code lost conversation %s; rebuilding it from the history", conversation.id)
        self.pool.make_room_for(turn.tenant, turn.process_limit)
        if not turn.history:
            warm = self.settings.warm_processes and key.agent is None  # agent processes are each their own
            spare = await self.pool.ready_spare(key.for_spares()) if warm else None
            if spare is not None:
                await spare.set_model(key.model)  # spares serve every model of their option set
                adopt_workdir(conversation, spare)
                attempt.reused = True
                return spare, turn.prompt
            mirror = self._mirror(conversation, key)
            return await self.spawn(self.options.for_key(key, conversation.cwd, None, mirror=mirror)), turn.prompt
        if self.settings.history_mode == "transcript":
            history, prompt = resumable(turn.history, turn.prompt, tools_offered=bool(key.tools))
            session = write_transcript(conversation.config_dir, conversation.cwd, history)
            if self.transcripts is not None:
                await self.transcripts.seed(conversation, key, session)
            try:
                return await self._resume(conversation, key, session), prompt
            except ResumeRefused:
                log.warning("Claude Code refused the history transcript; sending the history inline")
        process = await self.spawn(
            self.options.for_key(key, conversation.cwd, None, mirror=self._mirror(conversation, key))
        )
        return process, inline_history(turn.history, turn.prompt)

    async def spawn(self, spawn: Spawn) -> ClaudeProcess:
        """A new connected process; start-up failures as gateway errors."""
        try:
            return await self.pool.spawn(spawn)
        except GatewayError:
            raise
        except Exception as exc:
            if spawn.options.resume and RESUME_REFUSED_MARKER in str(exc):
                raise ResumeRefused() from exc
            raise start_error(exc, self.settings.connect_timeout, self.settings.retry_after_default) from exc

    async def _resume(self, conversation: Conversation, key: SpawnKey, session: str) -> ClaudeProcess:
        fork, conversation.fork_pending = conversation.fork_pending, False
        mirror = self._mirror(conversation, key)
        return await self.spawn(self.options.for_key(key, conversation.cwd, session, fork=fork, mirror=mirror))

    def _mirror(self, conversation: Conversation, key: SpawnKey) -> TranscriptMirror | None:
        return self.transcripts.mirror_for(conversation, key) if self.transcripts is not None else None


def forget_process(conversation: Conversation) -> None:
    """The process is gone (evicted, idled out); the transcript still lets the CLI resume."""
    conversation.process = None


def adopt_workdir(conversation: Conversation, process: ClaudeProcess) -> None:
    """A spare was started in a folder of its own; the conversation moves in there, and its
    old folder goes with the transcripts written in it (a failed first turn's)."""
    conversation.remove_folder(conversation.cwd)
    conversation.cwd = Path(process.options.cwd or conversation.cwd)
