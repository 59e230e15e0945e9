"""Claude Code's transcripts in Redis: the Agent SDK's `SessionStore` protocol (its `types.py`),
which the SDK's transcript mirror feeds as the CLI writes (`ClaudeAgentOptions.session_store`).

The engine uses it for agent sessions (app/engine/transcripts/replicated.py): their transcripts hold
Claude Code's tool calls and results, which the gateway's own history does not, so that a replica
that has not run a session yet resumes Claude Code's own conversation. Keys (after the operator's
prefix; a part's ':' and '%' are escaped, so keys never collide):

- `transcript:<project>:<session>`: a list, one JSON entry a line of the CLI's JSONL, in append order;
- `transcript-sub:<project>:<session>:<subpath>`: the same for a subagent's transcript;
- `transcript-subpaths:<project>:<session>`: a set of the session's subpaths;
- `transcript-uuids:<project>:<session>[:<subpath>]`: a set of the entries' `uuid`s, so that an
  entry appended twice (a retried batch, a transcript sent again) is kept once, as the protocol asks;
- `transcripts:<project>`: a sorted set of the project's sessions by last append (epoch ms);
- `transcript-head:<project>`: the gateway's own note of the session that holds a conversation's
  latest clean turn, that turn's history hash, and how many entries the session had then
  (`mark`, `marked`): what a failed or cut-short turn appended after them is never resumed.

Everything expires `ttl` after the last append (the session TTL): the SDK never deletes (its
docstring leaves retention to the adapter), and a transcript must not outlive its session.
"""

from __future__ import annotations

import json
import time
from typing import Any

from claude_agent_sdk.types import (
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
)

from ...core.redis import RedisLink, reply

# KEYS: entries, uuids, index, subpaths (or the entries key for a main transcript)
# ARGV: ttl ms, now ms, session id, subpath ('' for main), then pairs of uuid ('' for none) and entry
_APPEND = """
local ttl = tonumber(ARGV[1])
local pushed = 0
for i = 5, #ARGV, 2 do
  if ARGV[i] == '' or redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i + 1])
    pushed = pushed + 1
  end
end
if pushed == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
if ARGV[4] == '' then
  local now = tonumber(ARGV[2])
  local last = redis.call('ZSCORE', KEYS[3], ARGV[3])
  if last and tonumber(last) >= now then now = tonumber(last) + 1 end
  redis.call('ZADD', KEYS[3], now, ARGV[3])
else
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ttl)
end
redis.call('PEXPIRE', KEYS[3], ttl)
return pushed
"""


# KEYS: entries, head; ARGV: session id, history hash, ttl ms
_MARK = """
local head = cjson.encode({session = ARGV[1], holds = ARGV[2], length = redis.call('LLEN', KEYS[1])})
redis.call('SET', KEYS[2], head, 'PX', ARGV[3])
"""
# KEYS: entries; ARGV: how many to keep
_TRIM = "if redis.call('LLEN', KEYS[1]) > tonumber(ARGV[1]) then redis.call('LTRIM', KEYS[1], 0, ARGV[1] - 1) end"


def _part(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


class RedisSessionStore(SessionStore):
    """The SDK's SessionStore on Redis (module docstring); `list_session_summaries` is left out,
    so the SDK's listing falls back to `list_sessions` and `load`."""

    # Left out, as the protocol's own marker says (the SDK checks for an override, mypy for a body).
    list_session_summaries = SessionStore.list_session_summaries

    def __init__(self, shared: RedisLink, ttl: float) -> None:
        self.shared = shared
        self.client = shared.client
        self.ttl = ttl
        self._append = self.client.register_script(_APPEND)
        self._mark = self.client.register_script(_MARK)
        self._trim = self.client.register_script(_TRIM)

    # --- keys ---------------------------------------------------------------------------------
    def _entries(self, key: SessionKey) -> str:
        project, session, subpath = _part(key["project_key"]), _part(key["session_id"]), key.get("subpath")
        if subpath is None:
            return self.shared.key("transcript", project, session)
        return self.shared.key("transcript-sub", project, session, _part(subpath))

    def _uuids(self, key: SessionKey) -> str:
        parts = [_part(key["project_key"]), _part(key["session_id"])]
        subpath = key.get("subpath")
        return self.shared.key("transcript-uuids", *parts, *([_part(subpath)] if subpath is not None else []))

    def _subpaths(self, key: SessionKey | SessionListSubkeysKey) -> str:
        return self.shared.key("transcript-subpaths", _part(key["project_key"]), _part(key["session_id"]))

    def _index(self, project_key: str) -> str:
        return self.shared.key("transcripts", _part(project_key))

    # --- the protocol -------------------------------------------------------------------------
    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        if not entries:
            return
        pairs: list[str] = []
        for entry in entries:
            pairs += [str(entry.get("uuid") or ""), json.dumps(entry, ensure_ascii=False)]
        keys = [self._entries(key), self._uuids(key), self._index(key["project_key"]), self._subpaths(key)]
        args: list[Any] = [int(self.ttl * 1000), int(time.time() * 1000), key["session_id"], key.get("subpath", "")]
        await self._append(keys=keys, args=[*args, *pairs])

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        raw = await reply(self.client.lrange(self._entries(key), 0, -1))
        if not raw:
            return None  # never written, or expired: Redis cannot tell them apart (the protocol allows)
        return [json.loads(line) for line in raw]

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        index = self._index(project_key)
        await self.client.zremrangebyscore(index, "-inf", int((time.time() - self.ttl) * 1000))
        members = await self.client.zrange(index, 0, -1, withscores=True)
        return [{"session_id": member.decode(), "mtime": int(score)} for member, score in members]

    async def delete(self, key: SessionKey) -> None:
        """One subagent transcript (a key with `subpath`), or a session with all of its own."""
        if key.get("subpath") is not None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._entries(key), self._uuids(key))
                pipe.srem(self._subpaths(key), key["subpath"])
                await pipe.execute()
            return
        subpaths = [member.decode() for member in await reply(self.client.smembers(self._subpaths(key)))]
        subkeys: list[SessionKey] = [{**key, "subpath": subpath} for subpath in subpaths]
        async with self.client.pipeline(transaction=True) as pipe:
            for each in [key, *subkeys]:
                pipe.delete(self._entries(each), self._uuids(each))
            pipe.delete(self._subpaths(key))
            pipe.zrem(self._index(key["project_key"]), key["session_id"])
            await pipe.execute()

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        return sorted(member.decode() for member in await reply(self.client.smembers(self._subpaths(key))))

    # --- the gateway's note of which session holds a conversation's latest turn ----------------
    def _head(self, project_key: str) -> str:
        return self.shared.key("transcript-head", _part(project_key))

    async def mark(self, project_key: str, session_id: str, holds: str) -> None:
        """Session `session_id`, as it is now, holds the conversation `project_key` up to `holds`."""
        entries = self._entries({"project_key": project_key, "session_id": session_id})
        await self._mark(keys=[entries, self._head(project_key)], args=[session_id, holds, int(self.ttl * 1000)])

    async def unmark(self, project_key: str) -> None:
        await self.client.delete(self._head(project_key))

    async def marked(self, project_key: str, holds: str) -> tuple[str, list[SessionStoreEntry]] | None:
        """The session marked as holding `project_key` up to `holds`, with its entries as they were
        then (None if there is none); what came after them (a turn that failed or was cut short)
        goes, so that what the session's next process mirrors follows them."""
        raw = await self.client.get(self._head(project_key))
        if raw is None:
            return None
        head = json.loads(raw)
        if head["holds"] != holds or not head["length"]:
            return None
        session_id, length = str(head["session"]), int(head["length"])
        key: SessionKey = {"project_key": project_key, "session_id": session_id}
        lines = await reply(self.client.lrange(self._entries(key), 0, length - 1))
        if len(lines) != length:
            return None  # expired meanwhile
        await self._trim(keys=[self._entries(key)], args=[length])
        return session_id, [json.loads(line) for line in lines]
