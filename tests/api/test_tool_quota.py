"""The workspace quota holds for what Claude Code's tools write, not only for uploads: an agent
turn whose tool took the key's workspaces past the quota ends with 413 workspace_quota_exceeded
(an error event once streaming), the turn goes no further, and the key's agent turns are refused
until files are deleted. A scripted engine plays a Bash call that writes into the workspace."""

from __future__ import annotations

import json

from app.core.events import Finish, TextDelta, ToolResult, ToolUse, Usage
from app.core.messages import answer_message
from app.core.turn import Turn
from tests.support import ScriptedEngine, make_client

ANN = {"Authorization": "Bearer ann-key"}
MB = 1024 * 1024


class WritingEngine(ScriptedEngine):
    """Each turn: a Bash call that writes `size` bytes to big.bin in the workspace, then a second
    call (counted in `second_calls` if the turn gets that far), then an answer."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.second_calls = size, 0

    async def stream(self, turn: Turn):
        self.turns.append(turn)
        assert turn.workspace is not None
        yield ToolUse("toolu_1", "Bash", {"command": f"head -c {self.size} /dev/zero > big.bin"})
        (turn.workspace / "big.bin").write_bytes(b"\0" * self.size)
        yield ToolResult("toolu_1", "Bash", "")
        self.second_calls += 1
        yield ToolUse("toolu_2", "Bash", {"command": "echo after"})
        yield ToolResult("toolu_2", "Bash", "after")
        yield TextDelta("done")
        yield Finish("stop", Usage(1, 1), message=answer_message("done"))


def client_on(engine: WritingEngine, **settings):
    client, _ = make_client(api_keys="ann-key", agent_mode=True, workspace_quota_mb=1, **settings)
    client._transport.app.state.gateway.sessions.engine = engine
    return client


def ask(stream: bool = False) -> dict:
    return {"model": "sonnet", "messages": [{"role": "user", "content": "write"}], "claude_code": {}, "stream": stream}


def session(name: str) -> dict[str, str]:
    return {**ANN, "X-Session-Id": name}


async def test_a_tool_writing_past_the_quota_ends_the_turn_with_413_until_files_are_deleted():
    engine = WritingEngine(3 * MB)
    async with client_on(engine) as client:
        over = await client.post("/v1/chat/completions", json=ask(), headers=session("s1"))
        assert over.status_code == 413, over.text
        error = over.json()["error"]
        assert error["code"] == "workspace_quota_exceeded" and f"{3 * MB} bytes" in error["message"], error
        assert engine.second_calls == 0  # the turn went no further

        refused = await client.post("/v1/chat/completions", json=ask(), headers=session("s2"))
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "workspace_quota_exceeded"
        assert len(engine.turns) == 1  # refused before the engine ran anything

        listed = (await client.get("/v1/sessions/s1/files", headers=ANN)).json()
        assert [f["path"] for f in listed["data"]] == ["big.bin"]  # kept: the client's to fetch or delete
        deleted = await client.delete("/v1/sessions/s1/files/big.bin", headers=ANN)
        assert deleted.status_code == 200, deleted.text
        engine.size = 1000
        again = await client.post("/v1/chat/completions", json=ask(), headers=session("s1"))
        assert again.status_code == 200, again.text
        assert engine.second_calls == 1


async def test_a_streamed_turn_ends_with_an_error_event_after_the_tool_result():
    engine = WritingEngine(2 * MB)
    async with client_on(engine) as client:
        streamed = await client.post("/v1/chat/completions", json=ask(stream=True), headers=session("s1"))
    assert streamed.status_code == 200
    payloads = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    events = [p["choices"][0]["delta"].get("claude_code_event", {}).get("type") for p in payloads if p.get("choices")]
    assert "tool_result" in events
    assert payloads[-1]["error"]["code"] == "workspace_quota_exceeded", payloads[-1]
    assert engine.second_calls == 0


async def test_the_anthropic_door_answers_in_its_own_envelope():
    engine = WritingEngine(2 * MB)
    async with client_on(engine) as client:
        body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "w"}], "claude_code": {}}
        over = await client.post("/v1/messages", json=body, headers=session("s1"))
    assert over.status_code == 413, over.text
    body = over.json()
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large", body
    assert "past their quota" in body["error"]["message"], body


async def test_a_turn_within_the_quota_runs_whole():
    engine = WritingEngine(500_000)
    async with client_on(engine) as client:
        fine = await client.post("/v1/chat/completions", json=ask(), headers=session("s1"))
    assert fine.status_code == 200, fine.text
    assert engine.second_calls == 1
