"""The whole app with the real ClaudeEngine, driving our fake `claude` executable (fast, and able to
crash, hang and forget transcripts on demand), through the HTTP API in-process."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest

from tests.support import FAKE_CLAUDE, HISTORY, ask


async def test_answer_and_clean_up_after_itself(gateway, tmp_path, config_dir):
    client, engine, settings = await gateway()
    response = await client.post("/v1/chat/completions", json=ask("hello", HISTORY))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "echo: hello"
    assert body["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 3,
        "total_tokens": 18,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    # The conversation is kept (its process stays warm) until its session ends; then its working
    # folder, its transcripts and its process are gone.
    session_id = response.headers["x-session-id"]
    assert (await client.delete(f"/v1/sessions/{session_id}")).json()["deleted"] is True
    await engine.pool.close_all(grace=10)  # spares too
    assert [p.name for p in engine.work.path.iterdir()] == ["claude-launcher"]  # no conversation's folder
    assert list((config_dir / "projects").iterdir()) == []
    assert engine.processes == set()


async def test_history_reaches_the_cli_as_a_resumed_transcript(gateway):
    client, _, _ = await gateway()
    response = await client.post("/v1/chat/completions", json=ask("[[history]]", HISTORY))
    answer = response.json()["choices"][0]["message"]["content"]
    assert json.loads(answer) == {"history": [["user", "My name is Ann."], ["assistant", "Hello Ann!"]]}


async def test_a_refused_transcript_falls_back_to_inline_history(gateway, tmp_path):
    # A CLI that looks for transcripts somewhere else: it will not find ours.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    wrapper = tmp_path / "claude-elsewhere"
    wrapper.write_text(f'#!/bin/sh\nCLAUDE_CONFIG_DIR="{elsewhere}" exec "{FAKE_CLAUDE}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    client, _, _ = await gateway(cli_path=str(wrapper))
    response = await client.post("/v1/chat/completions", json=ask("What is my name?", HISTORY))
    assert response.status_code == 200, response.text
    answer = response.json()["choices"][0]["message"]["content"]
    assert "<user>\nMy name is Ann.\n</user>" in answer and "<assistant>\nHello Ann!\n</assistant>" in answer
    assert answer.endswith("What is my name?")


async def test_inline_history_mode(gateway):
    client, _, _ = await gateway(history_mode="inline")
    response = await client.post("/v1/chat/completions", json=ask("again", HISTORY))
    assert "<conversation_history>" in response.json()["choices"][0]["message"]["content"]


async def test_system_prompt_reaches_the_cli(gateway):
    client, _, _ = await gateway()
    body = ask("[[system]]")
    body["messages"].insert(0, {"role": "system", "content": "Be a pirate."})
    response = await client.post("/v1/chat/completions", json=body)
    assert response.json()["choices"][0]["message"]["content"] == "system: Be a pirate."


async def test_thinking_streams_as_reasoning_content(gateway):
    client, _, _ = await gateway()
    async with client.stream("POST", "/v1/chat/completions", json=ask("[[think]] hi", stream=True)) as response:
        frames = [
            json.loads(line[6:]) for line in [x async for x in response.aiter_lines()] if line.startswith("data: {")
        ]
    deltas = [f["choices"][0]["delta"] for f in frames if f["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "thinking about it"
    assert "".join(d.get("content", "") for d in deltas) == "echo: [[think]] hi"


@pytest.mark.parametrize(
    "prompt, status, code",
    [
        ("[[error 429]]", 429, "rate_limit_exceeded"),
        ("[[error 401]]", 502, "upstream_auth_failed"),
        ("[[error 500]]", 502, "upstream_error"),
        ("[[error 529]]", 503, "upstream_overloaded"),
        ("[[error 400]]", 429, "insufficient_quota"),
        ("[[crash]]", 502, "claude_process_failed"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_failures_keep_their_meaning(gateway, prompt, status, code, stream):
    client, engine, _ = await gateway(retry_after_default=11)
    response = await client.post("/v1/chat/completions", json=ask(prompt, stream=stream))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == "11"
    message = response.json()["error"]["message"]
    assert "simulated crash" not in message and "127.0.0.1" not in message  # the CLI's stderr, the upstream


async def test_no_login_is_503_saying_how_to_log_in(gateway, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_NO_AUTH", "1")
    client, _, _ = await gateway()
    response = await client.post("/v1/chat/completions", json=ask("hi"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "claude_credentials_missing"


async def test_a_hung_turn_times_out_with_504_and_its_process_ends(gateway):
    client, engine, _ = await gateway(request_timeout=1, spare_processes=0)
    response = await client.post("/v1/chat/completions", json=ask("[[hang]]"))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    for process in list(engine.processes):
        await asyncio.wait_for(process.wait_closed(), 10)
    assert engine.processes == set()


async def test_a_cli_stuck_at_start_up_is_504_and_killed(gateway, tmp_path):
    stuck = tmp_path / "stuck-claude"
    stuck.write_text("#!/bin/sh\nexec sleep 300\n")
    stuck.chmod(0o755)
    client, engine, _ = await gateway(cli_path=str(stuck), connect_timeout=1, spare_processes=0)
    response = await client.post("/v1/chat/completions", json=ask("hi"))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "claude_start_timeout"
    for process in list(engine.processes):
        await asyncio.wait_for(process.wait_closed(), 10)  # not the SDK's own 60 s
    assert engine.processes == set()


async def test_a_missing_cli_is_503(gateway, tmp_path):
    client, _, _ = await gateway(cli_path=str(tmp_path / "no-such-claude"))
    response = await client.post("/v1/chat/completions", json=ask("hi"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "claude_cli_missing"


async def test_models_come_from_the_cli(gateway):
    client, _, _ = await gateway(model_aliases="gpt-4o=sonnet")
    ids = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    assert {"sonnet", "claude-sonnet-5-5", "haiku", "gpt-4o"} <= set(ids)


async def test_the_model_list_says_what_agent_clients_read_in_openais_shape(gateway):
    """Codex asks with `client_version` (and warns when it finds no metadata); other clients read
    OpenAI's four fields. One list for both: OpenAI's shape, plus each model's context window, the
    `reasoning.effort` values it takes (Claude Code's own levels) and its input modalities."""
    client, _, _ = await gateway(model_aliases="gpt-4o=sonnet")
    plain = await client.get("/v1/models")
    codex = await client.get("/v1/models", params={"client_version": "0.171.0"})
    assert plain.status_code == codex.status_code == 200
    assert plain.json() == codex.json()
    body = plain.json()
    assert set(body) == {"object", "data"} and body["object"] == "list"
    models = {model["id"]: model for model in body["data"]}
    sonnet = models["claude-sonnet-5-5"]
    assert {key: sonnet[key] for key in ("object", "created", "owned_by")} == {
        "object": "model",
        "created": 0,
        "owned_by": "anthropic",
    }
    assert sonnet["context_window"] == 200_000
    assert sonnet["reasoning_efforts"] == ["low", "medium", "high", "xhigh", "max"]
    assert sonnet["input_modalities"] == ["text", "image"]
    assert models["gpt-4o"]["context_window"] == 200_000  # a configured alias: the same metadata
    one = await client.get("/v1/models/claude-sonnet-5-5")
    assert one.json() == sonnet
    # Every listed effort is one the gateway takes as `reasoning.effort`, `max` included.
    for effort in sonnet["reasoning_efforts"]:
        asked = await client.post(
            "/v1/responses", json={"model": "sonnet", "input": "hi", "reasoning": {"effort": effort}}
        )
        assert asked.status_code == 200, (effort, asked.text)


# --- warm processes: limits, eviction, resume ---------------------------------------------------
async def test_an_evicted_conversation_resumes_from_its_transcript(gateway):
    client, engine, _ = await gateway(max_processes=1, spare_processes=0)
    await engine._warm_up  # the model probe's process, not counted below
    spawned = engine.pool.stats()["spawned_total"]
    await client.post("/v1/chat/completions", json=ask("I am Ann.", session_id="a"))
    await client.post("/v1/chat/completions", json=ask("I am Bo.", session_id="b"))  # evicts a's process
    assert engine.pool.stats()["live"] == 1
    response = await client.post("/v1/chat/completions", json=ask("[[history]]", session_id="a"))
    history = json.loads(response.json()["choices"][0]["message"]["content"])["history"]
    assert history == [["user", "I am Ann."], ["assistant", "echo: I am Ann."]]
    assert engine.pool.stats()["spawned_total"] - spawned == 3  # a, b, a again (resumed, not rebuilt)


async def test_when_every_process_is_busy_the_wait_ends_in_429(gateway):
    client, engine, _ = await gateway(max_processes=1, spare_processes=0, busy_wait=0.5)
    slow = asyncio.create_task(client.post("/v1/chat/completions", json=ask("[[slow]] " + "long " * 20)))  # ~3 s
    await asyncio.sleep(0.5)
    busy = await client.post("/v1/chat/completions", json=ask("me too"))
    assert busy.status_code == 429
    assert busy.json()["error"]["code"] == "gateway_busy"
    assert busy.headers["retry-after"].isdigit()
    assert (await slow).status_code == 200


async def test_idle_processes_close_and_the_conversation_resumes(gateway):
    client, engine, _ = await gateway(process_idle_timeout=0.2, spare_processes=0)
    await client.post("/v1/chat/completions", json=ask("remember me", session_id="idle"))
    await asyncio.sleep(0.3)
    assert engine.close_idle_processes() == 1
    response = await client.post("/v1/chat/completions", json=ask("[[turns]]", session_id="idle"))
    assert response.json()["choices"][0]["message"]["content"] == "turns: 2"


async def test_a_new_conversation_takes_a_warm_spare(gateway):
    client, engine, _ = await gateway(spare_processes=1)
    await client.post("/v1/chat/completions", json=ask("first"))
    for _ in range(100):  # the replacement spare starts once the gateway is quiet
        if engine.pool.stats()["spares"] == 1 and all(p.alive for p in engine.pool.processes):
            break
        await asyncio.sleep(0.05)
    response = await client.post("/v1/chat/completions", json=ask("second"))
    assert response.status_code == 200
    assert engine.pool.stats()["spare_hits"] == 1


async def test_forced_tool_choice_is_asked_for_and_reported(gateway):
    client, _, _ = await gateway()
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    response = await client.post(
        "/v1/chat/completions",
        json=ask("[[system]]", tools=[tool], tool_choice={"type": "function", "function": {"name": "lookup"}}),
    )
    assert "You must call the function `lookup` now." in response.json()["choices"][0]["message"]["content"]
    assert response.headers["x-gateway-ignored-params"] == "tool_choice"
