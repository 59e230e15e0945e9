"""Agent mode's permission prompts end to end on the real CLI (engine/agent/prompts.py): with
`permission_mode: default` and `permission_prompts: true`, a Write (which that mode does not give)
waits for the client's answer, asked on each door in its own shape; without opting in it is refused.
The fake upstream runs `TOOL:Name {...}` prompt lines as tool calls: a Write, then a Read of the same
file, whose result shows whether the Write ran."""

from __future__ import annotations

import json

import pytest
from anthropic import Anthropic
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


PERMISSION = "claude_code_permission"


def chat_ask(client: OpenAI, messages: list) -> tuple[list, object]:
    response = client.chat.completions.create(model="sonnet", messages=messages, extra_body={"claude_code": PROMPTS})
    return messages + [response.choices[0].message.model_dump(exclude_none=True)], response.choices[0]


@pytest.mark.parametrize(
    ("answer", "written"), [('{"approve": true}', True), ("deny: not in this folder", False)], ids=["approve", "deny"]
)
def test_chat_asks_with_a_call_of_the_reserved_function(openai_client, fake, answer, written):
    name = f"chat-{written}.txt"
    messages, choice = chat_ask(openai_client, [{"role": "user", "content": write_then_read(name, "chat text")}])
    assert choice.finish_reason == "tool_calls", choice
    (call,) = choice.message.tool_calls
    assert call.function.name == PERMISSION
    assert json.loads(call.function.arguments) == {
        "tool": "Write",
        "input": {"file_path": name, "content": "chat text"},
    }
    messages.append({"role": "tool", "tool_call_id": call.id, "content": answer})
    response = openai_client.chat.completions.create(
        model="sonnet", messages=messages, extra_body={"claude_code": PROMPTS}
    )
    text = response.choices[0].message.content
    if written:
        assert "chat text" in text and "does not exist" not in text, text
    else:
        assert "did not give permission" in text and "not in this folder" in text and "does not exist" in text, text


@pytest.mark.parametrize(
    ("answer", "written"),
    [([{"type": "text", "text": "allow"}], True), ('{"approve": false, "reason": "read only"}', False)],
    ids=["approve", "deny"],
)
def test_messages_asks_with_a_call_of_the_reserved_function(prompts_gateway, fake, answer, written):
    client = Anthropic(base_url=prompts_gateway.url, api_key=API_KEY, max_retries=0, timeout=120)
    name = f"messages-{written}.txt"
    messages: list = [{"role": "user", "content": write_then_read(name, "messages text")}]
    first = client.messages.create(
        model="sonnet", max_tokens=1024, messages=messages, extra_body={"claude_code": PROMPTS}
    )
    assert first.stop_reason == "tool_use", first
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.name == PERMISSION and call.input == {
        "tool": "Write",
        "input": {"file_path": name, "content": "messages text"},
    }
    messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": answer}]})
    second = client.messages.create(
        model="sonnet", max_tokens=1024, messages=messages, extra_body={"claude_code": PROMPTS}
    )
    text = "".join(block.text for block in second.content if block.type == "text")
    if written:
        assert "messages text" in text and "does not exist" not in text, text
    else:
        assert "did not give permission" in text and "read only" in text and "does not exist" in text, text


def test_streamed_answers_ask_the_same_way(openai_client, fake):
    """Responses: the approval request item is added once whole (its tool's name is in the call's
    arguments); Chat: the reserved function's call streams as any call."""
    prompt = write_then_read("streamed.txt", "streamed text")
    with openai_client.responses.stream(model="sonnet", input=prompt, extra_body={"claude_code": PROMPTS}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [e.item for e in events if e.type == "response.output_item.added" and e.item.type == "mcp_approval_request"]
    done = [e.item for e in events if e.type == "response.output_item.done" and e.item.type == "mcp_approval_request"]
    assert len(added) == len(done) == 1 and added[0].name == done[0].name == "Write", events
    assert json.loads(done[0].arguments)["content"] == "streamed text"
    (request,) = [item for item in final.output if item.type == "mcp_approval_request"]
    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = openai_client.responses.create(
        model="sonnet", input=[approval], previous_response_id=final.id, extra_body={"claude_code": PROMPTS}
    )
    assert "streamed text" in second.output_text, second.output_text

    messages = [{"role": "user", "content": write_then_read("streamed-chat.txt", "chat stream")}]
    chunks = list(
        openai_client.chat.completions.create(
            model="sonnet", messages=messages, stream=True, extra_body={"claude_code": PROMPTS}
        )
    )
    calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    assert calls and calls[0].function.name == PERMISSION, chunks
    arguments = json.loads("".join(call.function.arguments or "" for call in calls))
    assert arguments == {"tool": "Write", "input": {"file_path": "streamed-chat.txt", "content": "chat stream"}}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_responses_approval_with_the_whole_input_sent_again(openai_client, fake):
    """Without a stored response (store=False) the client sends the approval request back with its answer."""
    prompt = {"role": "user", "content": write_then_read("resent.txt", "resent text")}
    first = openai_client.responses.create(
        model="sonnet", input=[prompt], store=False, extra_body={"claude_code": PROMPTS}
    )
    (request,) = [item for item in first.output if item.type == "mcp_approval_request"]
    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    items = [prompt, *(item.model_dump(exclude_none=True) for item in first.output), approval]
    second = openai_client.responses.create(
        model="sonnet", input=items, store=False, extra_body={"claude_code": PROMPTS}
    )
    assert "resent text" in second.output_text, second.output_text


def test_an_unanswered_question_is_dropped_as_a_held_function_call_is(openai_client, fake):
    """The client goes on without answering: the held turn is let go, and the next request is answered."""
    first = openai_client.responses.create(
        model="sonnet", input=write_then_read("abandoned.txt", "x"), extra_body={"claude_code": PROMPTS}
    )
    assert [item.type for item in first.output if item.type == "mcp_approval_request"]
    second = openai_client.responses.create(
        model="sonnet", input="never mind", previous_response_id=first.id, extra_body={"claude_code": PROMPTS}
    )
    assert second.output_text == "echo: never mind", second.output
    messages, choice = chat_ask(openai_client, [{"role": "user", "content": write_then_read("abandoned-2.txt", "x")}])
    assert choice.finish_reason == "tool_calls"
    messages.append({"role": "user", "content": "never mind"})
    response = openai_client.chat.completions.create(
        model="sonnet", messages=messages, extra_body={"claude_code": PROMPTS}
    )
    assert response.choices[0].message.content == "echo: never mind"


def test_two_calls_at_once_are_two_questions_answered_each(openai_client, fake):
    both = (
        f"{tool('Write', file_path='yes.txt', content='kept')} && {tool('Write', file_path='no.txt', content='gone')}"
    )
    prompt = f"{both}\n{tool('Read', file_path='yes.txt')} && {tool('Read', file_path='no.txt')}"
    first = openai_client.responses.create(model="sonnet", input=prompt, extra_body={"claude_code": PROMPTS})
    requests = {json.loads(i.arguments)["file_path"]: i for i in first.output if i.type == "mcp_approval_request"}
    assert set(requests) == {"yes.txt", "no.txt"}, first.output
    answers = [
        {"type": "mcp_approval_response", "approval_request_id": requests["yes.txt"].id, "approve": True},
        {"type": "mcp_approval_response", "approval_request_id": requests["no.txt"].id, "approve": False},
    ]
    second = openai_client.responses.create(
        model="sonnet", input=answers, previous_response_id=first.id, extra_body={"claude_code": PROMPTS}
    )
    text = second.output_text
    assert "kept" in text and "gone" not in text and "did not give permission" in text, text


def test_a_subagents_call_is_refused_not_asked_about(openai_client, fake):
    """The client sees a subagent's calls only as activity: its Write that needs permission is
    refused as without prompts (the hook knows it by the hook input's agent_id), never waited for."""
    writer = {"description": "Writes files.", "prompt": "You write files.", "tools": ["Write"]}
    call = tool(
        "Agent", subagent_type="writer", description="Write it", prompt=tool("Write", file_path="s.txt", content="x")
    )
    response = openai_client.with_options(timeout=60).chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": call}],
        extra_body={"claude_code": {**PROMPTS, "agents": {"writer": writer}}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls, choice
    assert "needs permission" in choice.message.content, choice.message.content


def test_a_streamed_messages_answer_asks_with_a_tool_use_block(prompts_gateway, fake):
    client = Anthropic(base_url=prompts_gateway.url, api_key=API_KEY, max_retries=0, timeout=120)
    messages = [{"role": "user", "content": write_then_read("streamed-messages.txt", "messages stream")}]
    with client.messages.stream(
        model="sonnet", max_tokens=1024, messages=messages, extra_body={"claude_code": PROMPTS}
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use", final
    (call,) = [block for block in final.content if block.type == "tool_use"]
    assert call.name == PERMISSION and call.input["input"] == {
        "file_path": "streamed-messages.txt",
        "content": "messages stream",
    }
