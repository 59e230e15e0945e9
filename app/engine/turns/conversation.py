"""A conversation as the engine keeps it between turns: its folder, its credential, the process
that holds it (and what that process holds), and a turn held for the client's function results.
router.py decides which process runs each turn."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.credentials import Credential
from ...core.disk import tree
from ...core.events import Finish
from ...core.messages import Message
from ...core.prices import price
from ..processes.options import SpawnKey
from ..processes.process import ClaudeProcess
from ..reading.reader import TurnReader
from ..reading.running import TurnMessages
from ..transcripts.local import remove_transcripts


@dataclass
class Held:
    """A turn that stopped to call the client's functions; it goes on when the results come."""

    process: ClaudeProcess
    messages: TurnMessages  # the turn's SDK messages, not yet read to the end
    reader: TurnReader
    calls: list[list[str]]  # [id, name, JSON arguments] of each call, in order
    since: float = field(default_factory=time.monotonic)


@dataclass
class Conversation:
    id: str
    cwd: Path
    config_dir: Path  # the Claude config folder of its credential (transcripts)
    credential: Credential | None = None
    key: SpawnKey | None = None
    holds: str | None = None  # extend_hash of what Claude holds, as served (None: nothing known)
    claude_session: str | None = None  # the CLI's session id, for --resume
    process: ClaudeProcess | None = None
    ran: set[ClaudeProcess] = field(default_factory=set)  # every process in cwd not yet exited
    processes_used: int = 0  # processes that ran its turns (spawned, resumed or a spare it took)
    held: Held | None = None
    workspace: bool = False  # cwd is an agent session's workspace: it outlives a gateway restart
    own_config: bool = False  # config_dir is the conversation's own (agent mode), removed with it
    fork_pending: bool = False  # a fork's copy of another's transcript: the next resume branches off it

    def remove_folder(self, folder: Path) -> None:
        """`folder` and its transcripts go now, and again as each process that ran in it exits (an
        interrupted CLI still writes its transcript); an agent conversation's config folder too."""
        config_dir, own_config = self.config_dir, self.own_config

        def remove() -> None:
            tree.discard(folder)  # an agent turn's own folder may hold anything Bash made
            remove_transcripts(config_dir, folder)
            if own_config:
                tree.discard(config_dir)

        remove()
        for process in list(self.ran):
            process.on_exit(remove)


def count_cost(process: ClaudeProcess, finish: Finish) -> None:
    """What this answer cost: Claude Code reports its process's running total, so the answer's own
    cost is what the total grew by since the process last reported it.

    An answer that ended before Claude Code's result (max_tokens or a stop string cut it, it
    stopped to call the client's functions) is priced at the model's list price (core/prices.py); the
    process's total counts that estimate as reported, so that a result that comes later (a held
    turn going on) adds only what it grew by beyond it."""
    if finish.total_cost_usd is not None:
        finish.cost_usd = max(0.0, finish.total_cost_usd - process.cost_reported)
        process.cost_reported = finish.total_cost_usd
    else:
        finish.cost_usd = price(finish.model or process.model, finish.usage)
        process.cost_reported += finish.cost_usd


def user_frame(message: Message) -> dict[str, Any]:
    """The stream-json frame that gives the CLI a user message."""
    return {
        "type": "user",
        "message": {"role": "user", "content": message.content},
        "parent_tool_use_id": None,
    }
