"""Remote MCP servers as hosted tools, end to end: the real CLI, the fake upstream scripting Claude's
calls of `mcp__<label>__<tool>` (`TOOL:` prompt lines), and the project's fake remote MCP server
(tests/fakes/remote_mcp.py, streamable HTTP and SSE) reached through the gateway's own proxy.

The fake server listens on 127.0.0.1, which the gateway refuses unless its operator allows private
addresses: this gateway does (GATEWAY_ALLOW_PRIVATE_URLS) and allows the server's origin
(GATEWAY_MCP_URLS); the refusals are tested on a gateway without those settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anthropic
import httpx
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.conftest import API_KEY
from tests.fakes.remote_mcp import RemoteMcp
from tests.support import GatewayServer, command_line

pytestmark = pytest.mark.e2e

TOKEN = "t0ken-remote-secret"


@pytest.fixture(scope="module")
def remote_process():
    server = RemoteMcp(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def remote(remote_process):
    remote_process.headers.clear()
    remote_process.calls.clear()
    return remote_process


@pytest.fixture(scope="module")
def mcp_gateway(upstream, cli_config_dir, tmp_path_factory, remote_process):
    env = {
        **upstream.cli_env(str(cli_config_dir)),
        "GATEWAY_API_KEYS": API_KEY,
        "GATEWAY_ALLOW_PRIVATE_URLS": "true",
        "GATEWAY_MCP_URLS": f"http://127.0.0.1:{remote_process.port}/",
    }
    server = GatewayServer(env, tmp_path_factory.mktemp("mcp-gateway")).start()
    yield server
    server.stop()


@pytest.fixture
def openai_client(mcp_gateway, fake) -> OpenAI:
    return OpenAI(base_url=f"{mcp_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=90)


def tool(name: str, **arguments) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def mcp_tool(url: str, label: str = "remote", **extra) -> dict:
    return {
        "type": "mcp",
        "server_label": label,
        "server_url": url,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "require_approval": "never",
        **extra,
    }


def secret_on_disk(*folders: str) -> list[str]:
    """Files under `folders` that hold the server's token."""
    found = []
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root, name)
                try:
                    if TOKEN.encode() in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    pass
    return found


# --- Responses --------------------------------------------------------------------------------


def test_a_remote_mcp_call_is_an_mcp_call_item_after_the_tool_list(openai_client, mcp_gateway, fake, remote):
    response = openai_client.responses.create(
        model="sonnet", input=tool("mcp__remote__facts", topic="sky"), tools=[mcp_tool(remote.url)]
    )
    listing, call, message = response.output
    assert listing.type == "mcp_list_tools" and listing.server_label == "remote"
    tools = {t.name: t for t in listing.tools}
    assert set(tools) == {"facts", "shout"}
    assert tools["facts"].input_schema["properties"]["topic"]["type"] == "string"
    assert tools["facts"].description == "Say what the remote knows about a topic."
    assert call.type == "mcp_call" and call.server_label == "remote" and call.name == "facts"
    assert json.loads(call.arguments) == {"topic": "sky"}
    assert call.output == "remote facts about sky: it is blue" and call.error is None
    assert message.type == "message" and "remote facts about sky" in response.output_text
    assert remote.calls == [{"tool": "facts", "arguments": {"topic": "sky"}}]
    # The server got the client's header on every request; the upstream (Claude) never saw it,
    assert remote.headers and set(remote.headers) == {f"Bearer {TOKEN}"}, remote.headers
    assert TOKEN not in json.dumps(fake.requests)
    assert "mcp__remote__facts" in [t["name"] for t in fake.requests[0]["tools"]]
    # nor does the response (stored, and read back) hold it, nor any file of the gateway's or Claude Code's.
    assert TOKEN not in response.model_dump_json()
    assert TOKEN not in httpx.get(f"{mcp_gateway.url}/v1/responses/{response.id}", headers=auth(), timeout=10).text
    env = mcp_gateway.env
    assert secret_on_disk(env["GATEWAY_WORK_DIR"], env["GATEWAY_DATA_DIR"], env["CLAUDE_CONFIG_DIR"]) == []
    assert [pid for pid in mcp_gateway.children() if TOKEN.encode() in command_line(pid)] == []


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def test_a_streamed_remote_mcp_call_has_its_own_events(openai_client, fake, remote):
    stream = openai_client.responses.create(
        model="sonnet", input=tool("mcp__remote__shout", text="hi"), tools=[mcp_tool(remote.url)], stream=True
    )
    events = list(stream)
    kinds = [event.type for event in events]
    for kind in (
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
    ):
        assert kind in kinds, kinds
    assert kinds.index("response.mcp_list_tools.completed") < kinds.index("response.mcp_call.in_progress")
    assert kinds.index("response.mcp_call.completed") < kinds.index("response.output_text.delta")
    done = events[-1].response
    assert [item.type for item in done.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert done.output[1].output == "HI!" and json.loads(done.output[1].arguments) == {"text": "hi"}
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_the_tool_list_is_not_repeated_in_the_same_conversation(openai_client, fake, remote):
    tools = [mcp_tool(remote.url)]
    first = openai_client.responses.create(model="sonnet", input="hello", tools=tools)
    assert [item.type for item in first.output] == ["mcp_list_tools", "message"]
    second = openai_client.responses.create(
        model="sonnet", input=tool("mcp__remote__facts", topic="sea"), tools=tools, previous_response_id=first.id
    )
    assert [item.type for item in second.output] == ["mcp_call", "message"], second.output
    third = openai_client.responses.create(model="sonnet", input="again", tools=tools, previous_response_id=second.id)
    assert [item.type for item in third.output] == ["message"]


def test_allowed_tools_keep_the_others_from_claude(openai_client, fake, remote):
    response = openai_client.responses.create(
        model="sonnet", input="hello", tools=[mcp_tool(remote.url, allowed_tools=["shout"])]
    )
    assert [t.name for t in response.output[0].tools] == ["shout"]
    offered = [t["name"] for t in fake.requests[0]["tools"]]
    assert "mcp__remote__shout" in offered and "mcp__remote__facts" not in offered


def test_the_sse_transport(openai_client, fake, remote):
    response = openai_client.responses.create(
        model="sonnet", input=tool("mcp__legacy__facts", topic="moon"), tools=[mcp_tool(remote.sse_url, "legacy")]
    )
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].output == "remote facts about moon: it is blue"
    assert remote.calls == [{"tool": "facts", "arguments": {"topic": "moon"}}]


def test_a_server_that_refuses_the_token_lists_no_tools(openai_client, fake, remote):
    bad = {**mcp_tool(remote.url), "headers": {"Authorization": "Bearer wrong"}}
    response = openai_client.responses.create(model="sonnet", input="hello", tools=[bad])
    listing = response.output[0]
    assert listing.type == "mcp_list_tools" and listing.tools == [] and listing.error
    assert response.output_text == "echo: hello"


# --- Anthropic Messages: mcp_servers (the mcp-client beta) -----------------------------------

BETA = ["mcp-client-2025-04-04"]


@pytest.fixture
def claude(mcp_gateway, fake) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mcp_gateway.url, api_key=API_KEY, max_retries=0, timeout=90)


def mcp_server(url: str, name: str = "remote", **extra) -> dict:
    return {"type": "url", "url": url, "name": name, "authorization_token": TOKEN, **extra}


def test_mcp_servers_calls_are_mcp_tool_use_and_result_blocks(claude, fake, remote):
    message = claude.beta.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": tool("mcp__remote__facts", topic="sky")}],
        mcp_servers=[mcp_server(remote.url)],
        betas=BETA,
    )
    use, result, text = message.content
    assert use.type == "mcp_tool_use" and use.name == "facts" and use.server_name == "remote"
    assert use.input == {"topic": "sky"}
    assert result.type == "mcp_tool_result" and result.tool_use_id == use.id and result.is_error is False
    assert result.content[0].text == "remote facts about sky: it is blue"
    assert text.type == "text" and "remote facts about sky" in text.text
    assert message.stop_reason == "end_turn"
    assert set(remote.headers) == {f"Bearer {TOKEN}"} and TOKEN not in json.dumps(fake.requests)

    # The blocks go back in the history as they came; the next turn goes on.
    follow = claude.beta.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[
            {"role": "user", "content": tool("mcp__remote__facts", topic="sky")},
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
            {"role": "user", "content": "thanks"},
        ],
        mcp_servers=[mcp_server(remote.url)],
        betas=BETA,
    )
    assert follow.content[-1].text == "echo: thanks"


def test_mcp_servers_streamed_as_content_blocks(claude, fake, remote):
    with claude.beta.messages.stream(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": tool("mcp__remote__shout", text="hey")}],
        mcp_servers=[mcp_server(remote.sse_url, tool_configuration={"allowed_tools": ["shout"]})],
        betas=BETA,
    ) as stream:
        starts = [event.content_block.type for event in stream if event.type == "content_block_start"]
        message = stream.get_final_message()
    assert starts == ["mcp_tool_use", "mcp_tool_result", "text"]
    assert message.content[1].content[0].text == "HEY!"
    assert remote.calls == [{"tool": "shout", "arguments": {"text": "hey"}}]
    assert [t["name"] for t in fake.requests[0]["tools"] if t["name"].startswith("mcp__")] == ["mcp__remote__shout"]


def test_a_disabled_server_offers_nothing(claude, fake, remote):
    message = claude.beta.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "hello"}],
        mcp_servers=[mcp_server(remote.url, tool_configuration={"enabled": False})],
        betas=BETA,
    )
    assert message.content[-1].text == "echo: hello"
    assert not [t for t in fake.requests[0].get("tools", []) if t["name"].startswith("mcp__")]
    assert remote.headers == []


# --- approval (require_approval) ---------------------------------------------------------------


def test_a_call_that_needs_approval_ends_the_answer_and_runs_once_approved(openai_client, fake, remote):
    tools = [mcp_tool(remote.url, require_approval="always")]
    first = openai_client.responses.create(model="sonnet", input=tool("mcp__remote__facts", topic="sky"), tools=tools)
    listing, request = first.output
    assert listing.type == "mcp_list_tools" and request.type == "mcp_approval_request"
    assert (request.server_label, request.name, json.loads(request.arguments)) == ("remote", "facts", {"topic": "sky"})
    assert remote.calls == []  # held, not run

    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = openai_client.responses.create(
        model="sonnet", input=[approval], tools=tools, previous_response_id=first.id
    )
    call, message = second.output
    assert call.type == "mcp_call" and call.approval_request_id == request.id and call.name == "facts"
    assert call.output == "remote facts about sky: it is blue"
    assert "remote facts about sky" in message.content[0].text
    assert remote.calls == [{"tool": "facts", "arguments": {"topic": "sky"}}]
    assert len([body for body in fake.requests]) == 2  # the held turn went on: Claude was not asked again first


def test_a_denied_call_never_runs_and_claude_is_told(openai_client, fake, remote):
    tools = [mcp_tool(remote.url, require_approval={"always": {"tool_names": ["facts"]}})]
    first = openai_client.responses.create(
        model="sonnet", input=tool("mcp__remote__facts", topic="sky"), tools=tools, stream=True
    )
    events = list(first)
    done = events[-1].response
    request = done.output[-1]
    assert request.type == "mcp_approval_request"
    assert "response.function_call_arguments.delta" not in [event.type for event in events]
    denial = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False, "reason": "not now"}
    second = openai_client.responses.create(model="sonnet", input=[denial], tools=tools, previous_response_id=done.id)
    assert remote.calls == []
    assert "did not approve" in second.output_text and "not now" in second.output_text, second.output_text


def test_approval_with_the_whole_input_sent_again(openai_client, fake, remote):
    tools = [mcp_tool(remote.url, require_approval="always")]
    prompt = {"role": "user", "content": tool("mcp__remote__shout", text="hey")}
    first = openai_client.responses.create(model="sonnet", input=[prompt], tools=tools, store=False)
    request = first.output[-1]
    assert request.type == "mcp_approval_request"
    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    sent_back = [item.model_dump(exclude_none=True) for item in first.output]
    second = openai_client.responses.create(
        model="sonnet", input=[prompt, *sent_back, approval], tools=tools, store=False
    )
    assert [item.type for item in second.output] == ["mcp_call", "message"], second.output
    assert second.output[0].output == "HEY!" and remote.calls == [{"tool": "shout", "arguments": {"text": "hey"}}]


def test_tools_that_need_no_approval_run_at_once(openai_client, fake, remote):
    tools = [mcp_tool(remote.url, require_approval={"never": {"tool_names": ["shout"]}})]
    response = openai_client.responses.create(model="sonnet", input=tool("mcp__remote__shout", text="a"), tools=tools)
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert "approval_request_id" not in response.output[1].model_dump(exclude_none=True)


# --- the OpenAI Agents SDK's HostedMCPTool -------------------------------------------------------


@pytest.mark.parametrize("approval", ["never", "always"])
async def test_openai_agents_sdk_hosted_mcp_tool(mcp_gateway, fake, remote, approval):
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # tracing would post every run to OpenAI's servers
    asked: list[str] = []

    def on_approval(request):
        asked.append(request.data.name)
        return {"approve": True}

    hosted = agents.HostedMCPTool(
        tool_config=mcp_tool(remote.url, require_approval=approval),
        on_approval_request=on_approval if approval == "always" else None,
    )
    client = AsyncOpenAI(base_url=f"{mcp_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=90)
    model = agents.OpenAIResponsesModel(model="sonnet", openai_client=client)
    agent = agents.Agent(name="remote", instructions="Use the remote tools.", tools=[hosted], model=model)
    result = await agents.Runner.run(agent, tool("mcp__remote__facts", topic="sky"))

    assert "remote facts about sky: it is blue" in result.final_output
    assert remote.calls == [{"tool": "facts", "arguments": {"topic": "sky"}}]
    assert asked == (["facts"] if approval == "always" else [])
    approved = ["mcp_approval_request_item", "mcp_approval_response_item"] if approval == "always" else []
    kinds = [item.type for item in result.new_items]
    assert kinds == ["mcp_list_tools_item", *approved, "tool_call_item", "message_output_item"], kinds
