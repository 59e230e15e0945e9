"""OpenAI's client-run tool types with a shape of their own, end to end (issue 22): the official
`openai` client -> the gateway -> the real Claude Code CLI -> the fake upstream, whose Claude calls
the function each tool is offered as. `custom` tools on /v1/responses and /v1/chat/completions, and
the Responses API's `local_shell`, `shell` and `apply_patch`, streamed and not; each round trip
sends the tool's output back, as the clients do, and gets the final answer from the held turn."""

from __future__ import annotations

import json

import pytest
from openai import AsyncOpenAI

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import agent

pytestmark = pytest.mark.e2e

RAW = '*** Begin Patch\n*** Add File: hello.txt\n+Hello, "world" \\o/\n*** End Patch'
GRAMMAR = {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'}
PATCHER = {"type": "custom", "name": "patcher", "description": "Applies a patch", "format": GRAMMAR}


def _offered(fake, name: str) -> dict:
    return next(t for t in fake.requests[0]["tools"] if t["name"] == f"mcp__client__{name}")


def _continued(fake) -> bool:
    """The held turn went on: Claude's last request holds no rebuilt history's marks."""
    sent = json.dumps([m for m in fake.requests[-1]["messages"] if m["role"] in ("user", "assistant")])
    return "No response requested" not in sent


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_custom_tool_round_trip(client, fake, stream):
    fake.default = agent([("patcher", {"input": RAW})])
    asked = [{"role": "user", "content": "Add hello.txt"}]
    first = client.responses.create(model="sonnet", input=asked, tools=[PATCHER], store=False, stream=stream)
    if stream:
        events = list(first)
        deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
        (done,) = [e for e in events if e.type == "response.custom_tool_call_input.done"]
        assert "".join(deltas) == RAW and done.input == RAW
        first = next(e.response for e in events if e.type == "response.completed")
    (call,) = first.output
    assert (call.type, call.name, call.input) == ("custom_tool_call", "patcher", RAW)
    offered = _offered(fake, "patcher")
    assert offered["input_schema"]["required"] == ["input"] and "Lark grammar" in offered["description"]
    sent_back = [
        call.model_dump(exclude_none=True),
        {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "patched"},
    ]
    second = client.responses.create(model="sonnet", input=asked + sent_back, tools=[PATCHER], store=False)
    assert second.output_text == "results: patched"
    assert _continued(fake)


def test_the_grammar_is_named_as_ignored(client, fake):
    fake.default = agent([("patcher", {"input": RAW})])
    raw = client.responses.with_raw_response.create(model="sonnet", input="Add hello.txt", tools=[PATCHER])
    assert raw.headers["x-gateway-ignored-params"] == "tools[0].format"
    (call,) = raw.parse().output
    follow_up = client.responses.create(
        model="sonnet",
        previous_response_id=raw.parse().id,
        input=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "ok"}],
        tools=[PATCHER],
    )
    assert follow_up.output_text == "results: ok"


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_custom_tool_round_trip(client, fake, stream):
    fake.default = agent([("patcher", {"input": RAW})])
    tools = [{"type": "custom", "custom": {"name": "patcher", "description": "Applies a patch"}}]
    messages = [{"role": "user", "content": "Add hello.txt"}]
    answer = client.chat.completions.create(model="sonnet", messages=messages, tools=tools, stream=stream)
    if stream:
        calls = [
            call.model_dump(exclude_none=True)
            for chunk in answer
            for choice in chunk.choices
            for call in choice.delta.tool_calls or []
        ]
        assert calls[0]["type"] == "custom" and calls[0]["custom"]["name"] == "patcher"
        call_id, raw = calls[0]["id"], "".join(c["custom"]["input"] for c in calls)
    else:
        (call,) = answer.choices[0].message.tool_calls
        assert answer.choices[0].finish_reason == "tool_calls" and call.type == "custom"
        call_id, raw = call.id, call.custom.input
    assert raw == RAW
    messages += [
        {
            "role": "assistant",
            "tool_calls": [{"id": call_id, "type": "custom", "custom": {"name": "patcher", "input": raw}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "patched"},
    ]
    final = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
    assert final.choices[0].message.content == "results: patched"
    assert _continued(fake)


SHELL_TOOLS = [{"type": "local_shell"}, {"type": "shell", "environment": {"type": "local"}}, {"type": "apply_patch"}]


@pytest.mark.parametrize("stream", [False, True])
def test_local_shell_shell_and_apply_patch_in_a_three_step_loop(client, fake, stream):
    """As Codex CLI runs them: each step's call is run by the client and sent back, stateless, with
    the whole input; the held turn goes on step after step."""
    fake.default = agent(
        [("shell", {"commands": ["ls"], "timeout_ms": 1000})],
        [("apply_patch", {"type": "create_file", "path": "hello.txt", "diff": "+Hello"})],
        [("local_shell", {"command": ["cat", "hello.txt"]})],
    )
    inputs: list = [{"role": "user", "content": "Make hello.txt and show it."}]
    outputs = {
        "shell_call": lambda c: {
            "type": "shell_call_output",
            "call_id": c.call_id,
            "output": [{"stdout": "README\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
        },
        "apply_patch_call": lambda c: {"type": "apply_patch_call_output", "call_id": c.call_id, "status": "completed"},
        "local_shell_call": lambda c: {"type": "local_shell_call_output", "id": c.call_id, "output": "Hello"},
    }
    for expected in ("shell_call", "apply_patch_call", "local_shell_call"):
        answer = client.responses.create(model="sonnet", input=inputs, tools=SHELL_TOOLS, store=False, stream=stream)
        if stream:
            answer = next(e.response for e in answer if e.type == "response.completed")
        (call,) = answer.output
        assert call.type == expected, answer.output
        inputs += [call.model_dump(exclude_none=True), outputs[expected](call)]
        if expected == "shell_call":
            assert call.action.commands == ["ls"] and call.action.timeout_ms == 1000
        elif expected == "apply_patch_call":
            assert (call.operation.type, call.operation.path, call.operation.diff) == (
                "create_file",
                "hello.txt",
                "+Hello",
            )
        else:
            assert call.action.command == ["cat", "hello.txt"] and call.action.type == "exec"
    final = client.responses.create(model="sonnet", input=inputs, tools=SHELL_TOOLS, store=False)
    assert final.output_text == "results: [command 1: exit code 0]\nREADME | Done. | Hello"
    assert _continued(fake)
    assert _offered(fake, "shell")["input_schema"]["required"] == ["commands"]


async def test_the_agents_sdks_shell_apply_patch_and_custom_tools_run_a_loop(gateway, fake):
    """The OpenAI Agents SDK's own ShellTool, ApplyPatchTool and CustomTool, each run by the SDK on
    Claude's calls, over the HTTP Responses model: the SDK reads the gateway's items as OpenAI's."""
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # tracing would post every run to OpenAI's servers
    fake.default = agent(
        [("shell", {"commands": ["echo hi"]})],
        [("apply_patch", {"type": "create_file", "path": "hello.txt", "diff": "+Hello"})],
        [("patcher", {"input": RAW})],
    )
    ran: list[object] = []

    def shell(request):
        ran.append(list(request.data.action.commands))
        output = agents.ShellCommandOutput(stdout="hi\n", outcome=agents.ShellCallOutcome(type="exit", exit_code=0))
        return agents.ShellResult(output=[output])

    class Editor:
        def create_file(self, operation):
            ran.append((operation.type, operation.path, operation.diff))
            return agents.ApplyPatchResult(status="completed", output="created")

        update_file = delete_file = create_file

    def patcher(context, raw: str) -> str:
        ran.append(raw)
        return "patched"

    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    model = agents.OpenAIResponsesModel(model="sonnet", openai_client=client)
    tools = [
        agents.ShellTool(executor=shell, environment={"type": "local"}),
        agents.ApplyPatchTool(editor=Editor()),
        agents.CustomTool(name="patcher", description="Applies a patch", on_invoke_tool=patcher),
    ]
    assistant = agents.Agent(name="coder", instructions="Use the tools.", tools=tools, model=model)
    result = await agents.Runner.run(assistant, "Say hi, add hello.txt, then patch.")
    assert ran == [["echo hi"], ("create_file", "hello.txt", "+Hello"), RAW]
    assert result.final_output.startswith("results: ") and result.final_output.endswith("| created | patched")
