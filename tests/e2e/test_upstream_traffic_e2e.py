"""What reaches the upstream when the gateway runs as the README says (an upstream URL and key, and
nothing of the tests' offline environment, which turns off Claude Code's extra traffic itself):
one upstream request per model call of the client's turn, usage that is the turn's own, and
requests that carry the client's text and nothing of the gateway's host."""

from __future__ import annotations

import json

import anthropic
import pytest
from openai import OpenAI

from tests.fakes.upstream import FakeAnthropic, Reply, agent
from tests.support import GatewayServer

pytestmark = pytest.mark.e2e

KEY = "traffic-key"
SYSTEM = "Answer in one word."
IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
DESCRIPTION = "Look something up.\nPass the step number."  # lines, no blank one (folders.py BARE_VARIABLE)
HOST_WORDS = ("# Environment", "Primary working directory", "OS Version", "Platform:", "Today's date")


@pytest.fixture(scope="module")
def upstream():
    """This module's own fake upstream (conftest's `fake` then resets it): the counts here see no
    late request of another test's gateway."""
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def readme_gateway(upstream, tmp_path_factory):
    """The gateway with the upstream's URL and key only (and a Claude config folder of its own)."""
    tmp = tmp_path_factory.mktemp("readme-gateway")
    env = {
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": "sk-ant-readme-key",
        "CLAUDE_CONFIG_DIR": str(tmp / "claude"),
        "GATEWAY_API_KEYS": KEY,
    }
    server = GatewayServer(env, tmp).start()
    yield server
    server.stop()


def only_the_clients_text(body: dict, gateway: GatewayServer, user_texts: list[str]) -> None:
    """The request's system is Claude Code's two fixed lines and the client's system text; its
    messages hold the client's messages only; nothing names the gateway's host."""
    system = [block["text"] for block in body["system"]]
    assert system[0].startswith("x-anthropic-billing-header:") and system[1:] == [IDENTITY, SYSTEM], system
    sent = [
        block["text"]
        for message in body["messages"]
        if message["role"] == "user"
        for block in message["content"]
        if block.get("type") == "text"
    ]
    assert sent == user_texts
    assert all(not m["content"] for m in body["messages"] if m["role"] == "system"), body["messages"]
    wire = json.dumps(body)
    assert not [word for word in HOST_WORDS if word in wire]
    assert gateway.env["GATEWAY_WORK_DIR"] not in wire and gateway.env["GATEWAY_DATA_DIR"] not in wire


def test_a_new_chat_completion_makes_one_upstream_request(readme_gateway, fake):
    fake.enqueue(Reply(text="Paris.", input_tokens=321, output_tokens=4))
    client = OpenAI(base_url=f"{readme_gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    answer = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "The capital of France?"}],
    )
    assert answer.choices[0].message.content == "Paris."
    assert len(fake.requests) == 1, [r["system"][-1]["text"][:60] for r in fake.requests]
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (321, 4)
    only_the_clients_text(fake.requests[0], readme_gateway, ["The capital of France?"])


def test_a_new_messages_turn_makes_one_upstream_request(readme_gateway, fake):
    fake.enqueue(Reply(text="Rome.", input_tokens=222, output_tokens=3))
    claude = anthropic.Anthropic(base_url=readme_gateway.url, api_key=KEY, max_retries=0)
    message = claude.messages.create(
        model="sonnet", max_tokens=100, system=SYSTEM, messages=[{"role": "user", "content": "The capital of Italy?"}]
    )
    assert message.content[0].text == "Rome."  # type: ignore[union-attr]
    assert len(fake.requests) == 1
    assert (message.usage.input_tokens, message.usage.output_tokens) == (222, 3)
    only_the_clients_text(fake.requests[0], readme_gateway, ["The capital of Italy?"])


def test_a_two_step_responses_loop_makes_one_upstream_request_a_model_call(readme_gateway, fake):
    fake.default = agent([("lookup", {"step": 0})], [("lookup", {"step": 1})])
    client = OpenAI(base_url=f"{readme_gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    tools = [
        {
            "type": "function",
            "name": "lookup",
            "description": DESCRIPTION,
            "parameters": {"type": "object", "properties": {"step": {"type": "integer"}}, "required": ["step"]},
        }
    ]
    items: list = [{"role": "user", "content": "Do two lookups."}]
    usage = []
    for step in range(3):
        response = client.responses.create(
            model="sonnet",
            instructions=SYSTEM,
            input=items,
            tools=tools,
            store=False,  # type: ignore[arg-type]
        )
        assert response.usage is not None
        usage.append((response.usage.input_tokens, response.usage.output_tokens))
        assert len(fake.requests) == step + 1, [r["system"][-1]["text"][:60] for r in fake.requests]
        calls = [item for item in response.output if item.type == "function_call"]
        if step < 2:
            assert [json.loads(call.arguments) for call in calls] == [{"step": step}]
            items += [call.model_dump(exclude_none=True) for call in calls]
            items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": f"r{step}"})
        else:
            assert not calls and response.output_text == "results: r0 | r1"
    assert usage == [(11, 7)] * 3  # each answer is its own model call's usage, nothing of another call
    for body in fake.requests:
        only_the_clients_text(body, readme_gateway, ["Do two lookups."])
        assert [tool["description"] for tool in body["tools"]] == [DESCRIPTION]
