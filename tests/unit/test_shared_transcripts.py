"""The engine's side of agent transcripts shared through Redis (app/engine/transcripts/replicated.py),
on a real redis-server: what a replica restores, and when it must not."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from app.core.agent import AgentConfig
from app.core.redis import RedisLink
from app.engine.processes.options import SpawnKey
from app.engine.transcripts.local import project_dir
from app.engine.transcripts.redis_store import RedisSessionStore
from app.engine.transcripts.replicated import ReplicatedTranscripts
from app.engine.turns.conversation import Conversation

AGENT = SpawnKey(None, None, None, agent=AgentConfig())
CHAT = SpawnKey(None, None, None)
LINES = [
    {"type": "user", "uuid": "u1", "message": {"role": "user", "content": "TOOL:Bash"}},
    {"type": "assistant", "uuid": "a1", "message": {"role": "assistant", "content": [{"type": "tool_use"}]}},
]


@pytest.fixture
async def shared(redis_url):
    shared = RedisLink.connect(redis_url, "test-shared-transcripts:")
    yield shared
    await shared.close()


def conversation(tmp_path, name: str = "uid-1") -> Conversation:
    return Conversation(name, tmp_path / name / "work", tmp_path / name / "config", workspace=True, own_config=True)


async def ran_elsewhere(shared, transcripts: ReplicatedTranscripts, tmp_path) -> str:
    """A turn on another replica: its process mirrored LINES, and the turn was marked as holding "h1"."""
    session = str(uuid.uuid4())
    mirror = transcripts.mirror_for(conversation(tmp_path, "uid-1"), AGENT)
    assert mirror is not None
    await mirror.append({"project_key": "-replica-a-path", "session_id": session}, LINES)
    await transcripts.mark(conversation(tmp_path, "uid-1"), AGENT, session, "h1")
    return session


async def test_a_replica_restores_the_transcript_that_holds_the_turns_history(shared, tmp_path):
    transcripts = ReplicatedTranscripts(RedisSessionStore(shared, 3600))
    session = await ran_elsewhere(shared, transcripts, tmp_path)
    here = conversation(tmp_path / "replica-b")
    assert await transcripts.restore(here, AGENT, "h1") == session
    written = (project_dir(here.config_dir, here.cwd) / f"{session}.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in written] == LINES


async def test_nothing_is_restored_for_another_history_or_a_chat_turn(shared, tmp_path):
    transcripts = ReplicatedTranscripts(RedisSessionStore(shared, 3600))
    await ran_elsewhere(shared, transcripts, tmp_path)
    here = conversation(tmp_path / "replica-b")
    assert await transcripts.restore(here, AGENT, "another history") is None
    assert await transcripts.restore(here, CHAT, "h1") is None
    assert transcripts.mirror_for(here, CHAT) is None
    assert not (here.config_dir / "projects").exists()


async def test_a_transcript_whose_mirroring_failed_is_never_offered(shared, redis_url, tmp_path):
    transcripts = ReplicatedTranscripts(RedisSessionStore(shared, 3600))
    session = await ran_elsewhere(shared, transcripts, tmp_path)
    broken = RedisLink.connect("redis://127.0.0.1:1/0", "test-shared-transcripts:")  # nothing listens there
    mirror = ReplicatedTranscripts(RedisSessionStore(broken, 3600)).mirror_for(conversation(tmp_path), AGENT)
    assert mirror is not None
    mirror.gaps = transcripts.gaps  # the same replica's engine
    with pytest.raises(redis.ConnectionError):
        await mirror.append({"project_key": "-replica-a-path", "session_id": session}, LINES)
    await broken.close()
    await transcripts.mark(conversation(tmp_path), AGENT, session, "h2")
    assert await transcripts.restore(conversation(tmp_path / "replica-b"), AGENT, "h2") is None
    assert await transcripts.restore(conversation(tmp_path / "replica-b"), AGENT, "h1") is None


async def test_redis_failing_leaves_the_turn_to_the_history(tmp_path):
    broken = RedisLink.connect("redis://127.0.0.1:1/0", "test-shared-transcripts:")
    transcripts = ReplicatedTranscripts(RedisSessionStore(broken, 3600))
    await transcripts.mark(conversation(tmp_path), AGENT, str(uuid.uuid4()), "h1")  # logged, not raised
    assert await transcripts.restore(conversation(tmp_path), AGENT, "h1") is None
    await broken.close()


async def test_a_rebuilt_transcript_that_did_not_reach_redis_is_never_offered(shared, tmp_path):
    here = conversation(tmp_path)
    session = str(uuid.uuid4())
    folder = project_dir(here.config_dir, here.cwd)
    folder.mkdir(parents=True)
    (folder / f"{session}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in LINES))
    broken = RedisLink.connect("redis://127.0.0.1:1/0", "test-shared-transcripts:")
    transcripts = ReplicatedTranscripts(RedisSessionStore(broken, 3600))
    await transcripts.seed(here, AGENT, session)  # logged, not raised
    await broken.close()

    working = ReplicatedTranscripts(RedisSessionStore(shared, 3600))
    working.gaps = transcripts.gaps  # Redis is back, for the same engine
    mirror = working.mirror_for(here, AGENT)
    assert mirror is not None
    await mirror.append({"project_key": "-path", "session_id": session}, [{"type": "user", "uuid": "u9"}])
    await working.mark(here, AGENT, session, "h1")
    assert await working.restore(conversation(tmp_path / "replica-b"), AGENT, "h1") is None


async def test_a_rebuilt_transcript_with_line_separators_in_its_text_reaches_redis_whole(shared, tmp_path):
    """The gateway writes transcripts with ensure_ascii=False, so U+2028 or U+0085 in a message stays
    raw: the transcript is read back by "\\n" only (str.splitlines also cut there), else it never
    reached Redis and the conversation lost its transcript on the other replicas."""
    here = conversation(tmp_path)
    session = str(uuid.uuid4())
    folder = project_dir(here.config_dir, here.cwd)
    folder.mkdir(parents=True)
    lines = [{"type": "user", "uuid": "u1", "message": {"role": "user", "content": "one\u2028two\x85three"}}]
    (folder / f"{session}.jsonl").write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    transcripts = ReplicatedTranscripts(RedisSessionStore(shared, 3600))
    await transcripts.seed(here, AGENT, session)
    assert not transcripts.gaps
    stored = await RedisSessionStore(shared, 3600).load({"project_key": here.id, "session_id": session})
    assert stored == lines
