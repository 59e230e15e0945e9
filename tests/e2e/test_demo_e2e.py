"""Demo mode end to end: `python main.py --demo` with no Claude variable at all and none of the
tests' fake upstream, so the real bundled CLI can only be answering from the gateway's own demo
upstream; the examples and the official clients get its labelled answers and the demo header."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import anthropic
import httpx
import pytest
from openai import OpenAI

from tests.support import ROOT, GatewayServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = GatewayServer({}, tmp_path_factory.mktemp("demo"), args=("--demo",)).start()
    assert not any(name.startswith(("ANTHROPIC_", "CLAUDE_")) for name in server.env)
    yield server
    server.stop()


def test_health_says_demo_and_every_answer_carries_the_header(demo):
    health = httpx.get(f"{demo.url}/health")
    assert health.json() == {"status": "ok", "demo": True}
    assert health.headers["x-gateway-demo"] == "true"
    missing = httpx.get(f"{demo.url}/v1/nowhere")
    assert missing.status_code == 404 and missing.headers["x-gateway-demo"] == "true"


def test_the_openai_example_runs_on_the_demo(demo):
    env = {**os.environ, "GATEWAY_URL": f"{demo.url}/v1"}
    env = {k: v for k, v in env.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    run = subprocess.run(
        [sys.executable, "examples/openai_python.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "[demo] You said: Name three primary colours." in run.stdout, run.stdout
    assert "[demo] You said: Count from 1 to 5." in run.stdout  # the streamed part
    assert "assistant: [demo] You said: What is my name?" in run.stdout


def test_the_anthropic_example_runs_on_the_demo(demo):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env["GATEWAY_URL"] = f"{demo.url}/v1"  # as for the OpenAI example: the /v1 is dropped
    run = subprocess.run(
        [sys.executable, "examples/anthropic_python.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "[demo] You said: Name three primary colours." in run.stdout, run.stdout
    assert "[demo] You said: Count from 1 to 5." in run.stdout  # the streamed part
    assert "assistant: [demo] You said: What is my name?" in run.stdout
    assert re.search(r"input_tokens=[1-9]", run.stdout)


def test_openai_client_streams_and_calls_a_function(demo):
    client = OpenAI(base_url=f"{demo.url}/v1", api_key="not-needed", max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(
        model="sonnet", messages=[{"role": "user", "content": "Hello demo"}]
    )
    assert raw.headers["x-gateway-demo"] == "true"
    assert raw.parse().choices[0].message.content == "[demo] You said: Hello demo"
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "Stream it"}], stream=True
        )
        if chunk.choices
    )
    assert streamed == "[demo] You said: Stream it"
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    asked = [{"role": "user", "content": "Call get_weather for Paris"}]
    call = client.chat.completions.create(model="sonnet", messages=asked, tools=tools).choices[0]
    assert call.finish_reason == "tool_calls"
    assert call.message.tool_calls[0].function.name == "get_weather"
    result = {"role": "tool", "tool_call_id": call.message.tool_calls[0].id, "content": "sunny"}
    answer = client.chat.completions.create(
        model="sonnet", messages=[*asked, call.message.model_dump(exclude_none=True), result], tools=tools
    )
    assert answer.choices[0].message.content == "[demo] The tool returned: sunny"


def test_anthropic_client_on_the_demo(demo):
    claude = anthropic.Anthropic(base_url=demo.url, api_key="not-needed", max_retries=0)
    message = claude.messages.create(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "Hi from anthropic"}]
    )
    assert message.content[0].text == "[demo] You said: Hi from anthropic"
    with claude.messages.stream(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "Streamed hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == "[demo] You said: Streamed hi"
    counted = claude.messages.count_tokens(model="sonnet", messages=[{"role": "user", "content": "count me"}])
    assert counted.input_tokens > 0


def test_demo_refuses_to_bind_beyond_loopback_even_with_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "ANTHROPIC_", "CLAUDE_"))}
    env.update({"GATEWAY_API_KEYS": "a-key", "GATEWAY_DATA_DIR": str(tmp_path / "data")})
    run = subprocess.run(
        [sys.executable, "main.py", "--demo", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "Refusing to bind 0.0.0.0 in demo mode" in run.stderr


def test_the_console_shows_a_demo_badge(demo):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: poetry install")
    chromium_path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(chromium_path):
        pytest.skip(f"no Chromium at {chromium_path}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{demo.url}/console")
            sync_api.expect(page.locator("#demo")).to_be_visible()
            sync_api.expect(page.locator("#demo")).to_have_text("Demo mode")
            assert problems == []
        finally:
            browser.close()
