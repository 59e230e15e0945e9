"""GET /health/live and /health/ready: what a kubelet or load balancer sees, with no key, before
the CLI has answered its probe, with the store gone, and while the gateway drains (turn requests
refused in their door's envelope with Retry-After, other routes still served)."""

from __future__ import annotations

import asyncio
import shutil

import httpx
import pytest

from app.core.settings import Settings
from app.engine import models
from app.http.app import create_app
from tests.support import FAKE_CLAUDE, ScriptedEngine, ask, make_client


def gateway_of(client: httpx.AsyncClient):
    return client._transport.app.state.gateway  # type: ignore[attr-defined]


async def test_live_and_ready_answer_a_keyed_gateway_from_another_machine_without_a_key():
    app = create_app(Settings(_env_file=None, api_keys="secret-key", host="0.0.0.0"), ScriptedEngine())
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.internal:8000") as client:
        assert (await client.get("/v1/models")).status_code == 401  # the routes still want a key
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"claude_code": "ok", "store": "ok", "draining": "no"}}


async def test_ready_is_503_until_the_cli_has_answered_its_probe(gateway, tmp_path):
    broken, _, _ = await gateway(cli_path="/bin/false")  # the probe fails: the CLI exits at once
    engine_of_broken = gateway_of(broken).engine
    assert engine_of_broken._warm_up is not None
    await engine_of_broken._warm_up
    response = await broken.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"claude_code": "not_probed", "store": "ok", "draining": "no"},
    }
    assert (await broken.get("/health/live")).status_code == 200  # alive all the same


async def test_after_a_failed_probe_readiness_asks_the_cli_again_and_turns_200(gateway, tmp_path, monkeypatch):
    """A gateway whose first probe failed (the CLI not yet installed, a full disk) must not stay
    out of the load balancer forever: nothing else would ask the CLI again."""
    monkeypatch.setattr(models, "PROBE_RETRY_AFTER", 0.0)
    installed = tmp_path / "installed"
    cli = tmp_path / "claude-once-installed"
    cli.write_text(f'#!/bin/sh\n[ -f "{installed}" ] || exit 1\nexec "{FAKE_CLAUDE}" "$@"\n')
    cli.chmod(0o755)
    client, engine, _ = await gateway(cli_path=str(cli))
    assert engine._warm_up is not None
    await engine._warm_up
    assert (await client.get("/health/ready")).status_code == 503
    installed.touch()
    for _ in range(100):
        if (await client.get("/health/ready")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/health/ready")).json()["status"] == "ready"


async def test_ready_turns_200_once_the_fake_cli_has_answered(gateway):
    client, engine, _ = await gateway()
    assert engine._warm_up is not None
    await engine._warm_up
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_ready_is_503_when_the_store_cannot_be_reached(data_dir):
    client, _ = make_client()
    gateway = gateway_of(client)
    assert (await client.get("/health/ready")).status_code == 200
    gateway.store.close()  # its pooled connections go; a new one cannot open a removed folder
    shutil.rmtree(data_dir)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"claude_code": "ok", "store": "unreachable", "draining": "no"},
    }
    assert str(data_dir) not in response.text
    assert (await client.get("/health/live")).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", ask("hi")),
        ("/v1/chat/completions", ask("hi", stream=True)),
        ("/v1/responses", {"model": "sonnet", "input": "hi"}),
    ],
)
async def test_a_draining_gateway_refuses_new_turns_with_503_in_the_openai_envelope(path, body):
    client, engine = make_client()
    gateway_of(client).traffic.draining = True
    response = await client.post(path, json=body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "gateway_draining"
    assert response.json()["error"]["type"] == "server_error"
    assert engine.turns == []


async def test_a_draining_gateway_refuses_new_messages_in_the_anthropic_envelope():
    client, engine = make_client()
    gateway_of(client).traffic.draining = True
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "overloaded_error"
    assert engine.turns == []


async def test_a_draining_gateway_is_not_ready_but_alive_and_still_answers_other_routes():
    client, _ = make_client()
    gateway_of(client).traffic.draining = True
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "draining", "checks": {"claude_code": "ok", "store": "ok", "draining": "yes"}}
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/v1/models")).status_code == 200
    count = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/messages/count_tokens", json=count)).status_code == 200  # not a turn


async def test_turns_in_flight_fall_back_to_zero_however_a_turn_ends():
    """A count that leaked would hold every drain for its whole timeout."""
    client, engine = make_client()
    gateway = gateway_of(client)
    assert (await client.post("/v1/chat/completions", json=ask("hi"))).status_code == 200
    async with client.stream("POST", "/v1/chat/completions", json=ask("hi", stream=True)) as response:
        assert response.status_code == 200
        async for _ in response.aiter_lines():
            pass
    assert (await client.post("/v1/chat/completions", json={"model": "sonnet"})).status_code == 400
    assert (await client.post("/v1/messages", content=b"{not json")).status_code == 400
    engine.script = []  # a turn that ends without a word
    await client.post("/v1/responses", json={"model": "sonnet", "input": "hi"})
    assert gateway.traffic.turns == set() and gateway.traffic.cut == set()


async def test_health_and_every_answer_say_demo_mode_only_in_demo_mode():
    client, _ = make_client(demo=True)
    async with client:
        health = await client.get("/health")
        refused = await client.post("/v1/chat/completions", json={"model": "sonnet"})  # no messages: 400
    assert health.json() == {"status": "ok", "demo": True} and health.headers["x-gateway-demo"] == "true"
    assert refused.status_code == 400 and refused.headers["x-gateway-demo"] == "true"
    client, _ = make_client()
    async with client:
        health = await client.get("/health")
    assert health.json() == {"status": "ok"} and "x-gateway-demo" not in health.headers
