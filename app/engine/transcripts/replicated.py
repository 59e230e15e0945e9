"""Agent sessions' Claude Code transcripts shared between replicas (`GATEWAY_REDIS_URL`).

An agent conversation's context is Claude Code's own transcript: its tool calls and their results
(Bash output, files read), which the gateway's history of the session does not hold. So with Redis:
- every agent-session process mirrors its transcript to Redis (the SDK's `session_store` option,
  fed by the CLI's `--session-mirror` frames; the SDK flushes it before it passes the turn's result
  on), through `TranscriptMirror`, a view of the RedisSessionStore (app/engine/transcripts/redis_store.py);
- at the end of a clean turn, before the client sees it, the router `mark`s which Claude Code
  session holds the conversation, with the history hash it holds (as a live process's `holds`)
  and its length then (what a later failed or cut-short turn mirrors is never resumed);
- a replica whose conversation does not hold the turn's history (it never ran the session, or
  another replica ran its later turns) `restore`s the marked transcript into its own agent config
  folder, if it holds exactly the turn's history, and the router resumes it (`--resume`), as after
  a restart; otherwise, or if the CLI refuses it, the conversation is rebuilt from the history
  (whose transcript the gateway then `seed`s to Redis: the CLI mirrors only what it writes).

Why the gateway materialises, and not the SDK: with `session_store` and `resume`, the SDK loads the
transcript into a `tempfile.mkdtemp()` folder and points CLAUDE_CONFIG_DIR there, on every resume.
The gateway's bubblewrap gives the CLI a private /tmp, so it would not find the file; the folder
would sit outside the config folder that the gateway keeps out of reach of Claude's tools (the
login's copy goes there too); and the transcripts written there are deleted with it. So the mirror's
`load` finds nothing, and the SDK resumes the local file the gateway wrote.

Why keyed by the conversation id (the session's uid, shared through Redis) and not by the SDK's
project key (the sanitised workspace path): the path differs between replicas whose data folders
differ, and a session deleted and made again under the same name gets a new uid, so it never finds
its predecessor's transcript. The CLI keeps a session's id when it resumes it (measured, CLI
2.1.329), so a conversation's turns on all replicas go on appending to one transcript.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Protocol

from claude_agent_sdk.types import SessionKey, SessionStore, SessionStoreEntry

from ...core.disk.workdir import private_folder, write_private
from ..processes.options import SpawnKey
from .local import project_dir
from .redis_store import RedisSessionStore

log = logging.getLogger(__name__)


class Conversation(Protocol):
    """What a transcript needs of a conversation (engine/turns/conversation.py has the whole)."""

    @property
    def id(self) -> str: ...

    @property
    def cwd(self) -> Path: ...

    @property
    def config_dir(self) -> Path: ...

    @property
    def workspace(self) -> bool: ...


class TranscriptMirror(SessionStore):
    """What one process's SDK client gets as its `session_store`: appends go to the conversation's
    key; `load` finds nothing, so that the SDK never materialises a resume itself (module docstring).
    The SDK calls nothing else of it; the protocol's optional methods stay absent."""

    list_sessions = SessionStore.list_sessions
    list_session_summaries = SessionStore.list_session_summaries
    delete = SessionStore.delete
    list_subkeys = SessionStore.list_subkeys

    def __init__(self, store: RedisSessionStore, conversation_id: str, gaps: set[tuple[str, str]]) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.gaps = gaps

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        try:
            await self.store.append(_key(self.conversation_id, key["session_id"], key.get("subpath")), entries)
        except BaseException:  # the SDK retries, or drops the batch: either way, it may be missing
            self.gaps.add((self.conversation_id, key["session_id"]))
            raise

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        return None


class ReplicatedTranscripts:
    """The engine's side of shared transcripts (module docstring). Redis failing never fails a
    turn: the conversation is rebuilt from its history, as without Redis."""

    def __init__(self, store: RedisSessionStore) -> None:
        self.store = store
        # (conversation, Claude Code session) whose mirroring failed once: their copy in Redis may
        # lack entries, so it is never marked as holding a conversation (a resumed session keeps
        # its id; a rebuilt one gets a new id, and with it a complete copy).
        self.gaps: set[tuple[str, str]] = set()

    def mirror_for(self, conversation: Conversation, key: SpawnKey) -> TranscriptMirror | None:
        """Where a process of `key` mirrors its transcript: an agent session's to Redis; a chat
        process's nowhere (a chat session's history is complete: it is rebuilt from it)."""
        if key.agent is None or not conversation.workspace:
            return None
        return TranscriptMirror(self.store, conversation.id, self.gaps)

    async def mark(self, conversation: Conversation, key: SpawnKey, claude_session: str | None, holds: str) -> None:
        """A clean turn: Claude Code's session `claude_session` holds the history up to `holds`."""
        if claude_session is None or self.mirror_for(conversation, key) is None:
            return
        try:
            if (conversation.id, claude_session) in self.gaps:
                await self.store.unmark(conversation.id)  # other replicas rebuild from the history
                return
            await self.store.mark(conversation.id, claude_session, holds)
        except Exception:
            log.warning("could not note conversation %s's transcript in Redis", conversation.id, exc_info=True)

    async def restore(self, conversation: Conversation, key: SpawnKey, holds: str) -> str | None:
        """Write the conversation's marked transcript where the CLI resumes it, if it holds
        exactly the history `holds`; its session id, or None."""
        if self.mirror_for(conversation, key) is None:
            return None
        try:
            marked = await self.store.marked(conversation.id, holds)
        except Exception:
            log.warning("could not read conversation %s's transcript from Redis", conversation.id, exc_info=True)
            return None
        if marked is None or not _is_uuid(marked[0]):
            return None
        folder = project_dir(conversation.config_dir, conversation.cwd)
        await asyncio.to_thread(_write_jsonl, folder, *marked)
        return marked[0]

    async def seed(self, conversation: Conversation, key: SpawnKey, claude_session: str) -> None:
        """Send a transcript the gateway wrote itself (a history rebuilt as one): the CLI mirrors
        only the lines it writes, and a resumed session keeps its id, so without this the shared
        transcript would start where the gateway's lines end."""
        if self.mirror_for(conversation, key) is None:
            return
        path = project_dir(conversation.config_dir, conversation.cwd) / f"{claude_session}.jsonl"
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            # "\n" only: the lines hold U+2028, U+0085, ... raw (ensure_ascii=False), where splitlines() cuts
            entries = [json.loads(line) for line in text.split("\n") if line.strip()]
            await self.store.append(_key(conversation.id, claude_session), entries)
        except Exception:
            self.gaps.add((conversation.id, claude_session))
            log.warning("could not send conversation %s's transcript to Redis", conversation.id, exc_info=True)


def _key(conversation_id: str, session_id: str, subpath: str | None = None) -> SessionKey:
    key: SessionKey = {"project_key": conversation_id, "session_id": session_id}
    if subpath is not None:
        key["subpath"] = subpath
    return key


def _is_uuid(text: str) -> bool:
    """A session id becomes a file name: only the CLI's own shape of one."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _write_jsonl(folder: Path, session_id: str, entries: list[SessionStoreEntry]) -> None:
    """The transcript as the CLI's JSONL, replacing a local copy at once (never half-written)."""
    private_folder(folder)
    path, partial = folder / f"{session_id}.jsonl", folder / f".{session_id}.jsonl.partial"
    partial.unlink(missing_ok=True)
    write_private(partial, "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries))
    os.replace(partial, path)
