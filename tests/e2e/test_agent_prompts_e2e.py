"""Agent mode's permission prompts end to end on the real CLI (engine/agent/prompts.py): with
`permission_mode: default` and `permission_prompts: true`, a Write (which that mode does not give)
waits for the client's answer, asked on each door in its own shape; without opting in it is refused.
The fake upstream runs `TOOL:Name {...}` prompt lines as tool calls: a Write, then a Read of the same
file, whose result shows whether the Write ran."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

from tests.e2e.conftest import API_KEY, serve

pytestmark = pytest.mark.e2e

PROMPTS = {"permission_mode": "default", "permission_prompts": True}


@pytest.fixture(scope="module")
def prompts_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "prompts-gateway", agent_mode="true")


@pytest.fixture
def openai_client(prompts_gateway):
    return OpenAI(base_url=f"{prompts_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)


def tool(name: str, **arguments: str) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def write_then_read(name: str, content: str) -> str:
    return f"{tool('Write', file_path=name, content=content)}\n{tool('Read', file_path=name)}"


def test_responses_asks_with_an_approval_request_and_runs_the_approved_write(openai_client, fake):
    first = openai_client.responses.create(
        model="sonnet", input=write_then_read("asked.txt", "approved text"), extra_body={"claude_code": PROMPTS}
    )
    requests = [item for item in first.output if item.type == "mcp_approval_request"]
    assert len(requests) == 1, first.output
    request = requests[0]
    assert (request.server_label, request.name) == ("claude_code", "Write")
    assert json.loads(request.arguments) == {"file_path": "asked.txt", "content": "approved text"}
    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = openai_client.responses.create(
        model="sonnet", input=[approval], previous_response_id=first.id, extra_body={"claude_code": PROMPTS}
    )
    assert "approved text" in second.output_text, second.output_text  # the Read found what the Write wrote
    calls = [item for item in second.output if item.type == "mcp_call"]
    assert [call.name for call in calls] == ["Write", "Read"], second.output


def test_responses_denied_write_does_not_run_and_claude_is_told_why(openai_client, fake):
    first = openai_client.responses.create(
        model="sonnet", input=write_then_read("denied.txt", "never written"), extra_body={"claude_code": PROMPTS}
    )
    request = next(item for item in first.output if item.type == "mcp_approval_request")
    denial = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False}
    denial["reason"] = "not in this folder"
    second = openai_client.responses.create(
        model="sonnet", input=[denial], previous_response_id=first.id, extra_body={"claude_code": PROMPTS}
    )
    text = second.output_text
    assert "did not give permission" in text and "not in this folder" in text, text
    assert "never written" not in text and "does not exist" in text, text


def test_without_opting_in_the_write_is_refused_as_before(openai_client, fake):
    asked = {"permission_mode": "default"}
    response = openai_client.responses.create(
        model="sonnet", input=write_then_read("refused.txt", "nope"), extra_body={"claude_code": asked}
    )
    assert not [item for item in response.output if item.type == "mcp_approval_request"], response.output
    assert "needs permission" in response.output_text and "does not exist" in response.output_text, response.output_text
