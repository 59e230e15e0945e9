"""Security properties of the real engine driving our fake `claude` executable: what every Claude
process is kept away from (seen from the command lines the fake records in FAKE_CLAUDE_LOG), and
what one tenant may see of the gateway."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest

from app.core.disk.workdir import UnsafeWorkDir
from app.engine.claude import ClaudeEngine
from app.engine.processes.folders import SYSTEM_PROMPT_FILE
from app.engine.transcripts.local import project_dir
from tests.api.conftest import make_settings
from tests.support import HISTORY, ask


def started(log) -> list[dict]:
    return [r for r in map(json.loads, log.read_text().splitlines()) if r["event"] == "start"]


async def test_every_process_skips_the_hosts_mcp_servers(gateway, tmp_path, monkeypatch):
    log = tmp_path / "cli.log"
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    client, engine, _ = await gateway(spare_processes=1)
    await engine._warm_up  # the model probe
    assert (await client.post("/v1/chat/completions", json=ask("first"))).status_code == 200
    for _ in range(100):  # the replacement spare starts once the gateway is quiet
        if engine.pool.stats()["spares"] == 1 and all(p.alive for p in engine.pool.processes):
            break
        await asyncio.sleep(0.05)
    assert (await client.post("/v1/chat/completions", json=ask("on the spare"))).status_code == 200
    assert engine.pool.stats()["spare_hits"] == 1
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    assert (await client.post("/v1/chat/completions", json=ask("history", HISTORY, tools=[tool]))).status_code == 200
    runs = started(log)
    assert len(runs) >= 4  # probe, first conversation, spare(s), resumed history with tools
    for run in runs:
        assert "--strict-mcp-config" in run["argv"], run["argv"]
        assert "--setting-sources=" in run["argv"] and run["argv"][run["argv"].index("--tools") + 1] == ""


async def test_a_keyed_tenant_sees_whether_a_credential_exists_not_whose(gateway, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    keyless, _, _ = await gateway()
    full = (await keyless.get("/v1/auth/status")).json()
    assert full["claude_code"]["account"]  # the operator, on this machine, sees the account
    keyed, _, _ = await gateway(api_keys="k1")
    response = await keyed.get("/v1/auth/status", headers={"x-api-key": "k1"})
    assert response.json() == {
        "credential": {"configured": True, "source": "ANTHROPIC_API_KEY"},
        "claude_code": {"reachable": True},
    }
    assert "sk-ant-secret" not in response.text


async def test_a_keyed_tenant_sees_its_own_figures_only(gateway):
    client, engine, _ = await gateway(api_keys="k1,k2", spare_processes=0)
    one, two = {"x-api-key": "k1"}, {"x-api-key": "k2"}
    for text in ("a", "b"):
        assert (
            await client.post("/v1/chat/completions", json=ask(text, session_id=text), headers=one)
        ).status_code == 200
    assert (await client.post("/v1/chat/completions", json=ask("c", session_id="c"), headers=two)).status_code == 200
    mine = (await client.get("/v1/sessions/stats", headers=two)).json()
    assert mine["sessions"] == 1
    assert mine["gateway"] == {"conversations": 1, "processes": {"live": 1, "exiting": 0, "spawned_total": 1}}
    theirs = (await client.get("/v1/sessions/stats", headers=one)).json()["gateway"]
    assert theirs["conversations"] == 2 and theirs["processes"]["live"] == 2
    assert "max_live" not in str(mine) and engine.stats()["conversations"] == 3


async def test_keyless_stats_show_the_whole_engine(gateway):
    client, _, _ = await gateway(spare_processes=0)
    await client.post("/v1/chat/completions", json=ask("a", session_id="a"))
    figures = (await client.get("/v1/sessions/stats")).json()["gateway"]
    assert figures["conversations"] == 1 and figures["processes"]["max_live"] >= 1


# --- the work folder ---------------------------------------------------------------------------
async def test_a_work_folder_others_can_write_is_refused_at_start(tmp_path, config_dir):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    engine = ClaudeEngine(make_settings(tmp_path, work_dir=str(shared)))
    with pytest.raises(UnsafeWorkDir):
        await engine.start()
    assert list(shared.iterdir()) == []


async def test_without_a_work_dir_each_gateway_has_its_own_private_folder(tmp_path, config_dir, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    first, second = (ClaudeEngine(make_settings(tmp_path, work_dir=None)) for _ in range(2))
    await first.start()
    await second.start()
    try:
        assert first.work.path != second.work.path
        for engine in (first, second):
            assert stat.S_IMODE(engine.work.path.stat().st_mode) == 0o700
            assert engine.work.path.parent == tmp_path.resolve()
    finally:
        await first.close()
        await second.close()


async def test_the_files_the_gateway_writes_are_private(gateway, config_dir):
    client, engine, _ = await gateway(spare_processes=0)
    body = ask("[[history]]", HISTORY, session_id="private")
    body["messages"].insert(0, {"role": "system", "content": "a secret system prompt"})
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    conversation = next(iter(engine.conversations.values()))
    assert stat.S_IMODE(conversation.cwd.stat().st_mode) == 0o700
    prompt = conversation.cwd / SYSTEM_PROMPT_FILE
    assert stat.S_IMODE(prompt.stat().st_mode) == 0o600 and prompt.read_text() == "a secret system prompt"
    written = list(project_dir(config_dir, conversation.cwd).glob("*.jsonl"))
    assert written and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in written)


async def test_a_failed_first_turn_leaves_no_transcript_when_a_spare_takes_over(gateway, config_dir):
    client, engine, _ = await gateway(spare_processes=1)
    await client.post("/v1/chat/completions", json=ask("warm up"))  # starts a spare for this option set
    for _ in range(100):
        if engine.pool.stats()["spares"] == 1 and all(p.alive for p in engine.pool.processes):
            break
        await asyncio.sleep(0.05)
    failed = await client.post("/v1/chat/completions", json=ask("[[error 500]]", session_id="retry"))
    assert failed.status_code == 502
    session = client._transport.app.state.gateway.sessions.registry.get("anonymous", "retry")
    conversation = engine.conversations[session.uid]
    first_folder = conversation.cwd
    assert project_dir(config_dir, first_folder).exists()  # the CLI wrote the failed turn down
    for _ in range(100):  # a spare for the next attempt
        if engine.pool.stats()["spares"] == 1 and all(p.alive for p in engine.pool.processes):
            break
        await asyncio.sleep(0.05)
    retried = await client.post("/v1/chat/completions", json=ask("again", session_id="retry"))
    assert retried.status_code == 200
    assert conversation.cwd != first_folder  # it moved into the spare's folder
    for _ in range(100):  # the failed turn's process may still be exiting
        if not project_dir(config_dir, first_folder).exists():
            break
        await asyncio.sleep(0.05)
    assert not first_folder.exists() and not project_dir(config_dir, first_folder).exists()
