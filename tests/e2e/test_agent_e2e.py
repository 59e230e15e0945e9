"""Agent mode end to end: the real CLI runs Claude Code's own tools (scripted by the fake upstream
as `TOOL:Name {...}` lines) in a sandboxed workspace, behind a real gateway server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from anthropic import Anthropic
from openai import OpenAI

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply, text_of


@pytest.fixture(scope="module")
def agent_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "agent-gateway", agent_mode="true")


def chat(gateway, prompt: str, claude_code: dict | None = None, session: str | None = None, **extra) -> httpx.Response:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": prompt}], **extra}
    if claude_code is not None:
        body["claude_code"] = claude_code
    headers = {"Authorization": f"Bearer {API_KEY}"} | ({"X-Session-Id": session} if session else {})
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def tool(name: str, **arguments) -> str:
    return f"TOOL:{name} {json.dumps(arguments)}"


def test_a_write_then_a_read_runs_in_the_workspace(agent_gateway, fake):
    write, read = tool("Write", file_path="notes.txt", content="hello agent"), tool("Read", file_path="notes.txt")
    prompt = f"{write}\n{read}"
    response = chat(agent_gateway, prompt, {"permission_mode": "acceptEdits"})
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert "hello agent" in message["content"], message


def run_commands(gateway, *commands: str, **claude_code) -> str:
    """The answer to a turn that runs each command with Bash: `results: out1 | out2 ...`."""
    prompt = "\n".join(tool("Bash", command=command, description="probe") for command in commands)
    response = chat(gateway, prompt, {"permission_mode": "acceptEdits", **claude_code})
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_commands_cannot_read_secrets_or_reach_the_network(agent_gateway, fake, cli_config_dir):
    data, work = agent_gateway.env["GATEWAY_DATA_DIR"], agent_gateway.env["GATEWAY_WORK_DIR"]
    answer = run_commands(
        agent_gateway,
        "cat /etc/shadow; echo shadow-done",
        'echo "KEY=[$ANTHROPIC_API_KEY]"; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c sk-ant-fake',
        f"ls -A {cli_config_dir} 2>/dev/null | wc -l; ls -A {data} | tr '\\n' ,; echo; find {work}",
        "curl -sS -m 5 http://example.com/ 2>&1 | head -3",
    )
    results = answer.removeprefix("results: ").split(" | ")
    assert "root:" not in results[0] and "shadow-done" in results[0]
    assert "KEY=[]" in results[1] and "sk-ant-fake" not in answer
    # The host's Claude config folder is out of sight; of the data folder (store, workspaces) and the work
    # folder (the launcher, other conversations) only the way to this process's own folders shows.
    # (Claude Code's own sandbox adds empty .claude and .mcp.json decoys in the folders above the workspace.)
    config, data_folder, *work_seen = results[2].split()
    assert config == "0" and set(data_folder.strip(",").split(",")) <= {
        "agent-config",
        "workspaces",
        ".claude",
        ".mcp.json",
    }
    assert not [path for path in work_seen if "launcher" in path or "gateway.db" in path], work_seen
    assert "blocked by network allowlist" in results[3], results[3]


def test_nothing_outside_the_workspace_can_be_written(agent_gateway, fake, tmp_path):
    target = tmp_path / "escape.txt"
    answer = run_commands(agent_gateway, f"echo x > {target}; echo rc=$?", "echo x > /usr/escape.txt; echo rc=$?")
    assert not target.exists()
    assert answer.count("rc=1") == 2 and "Read-only file system" in answer, answer
    prompt = tool("Write", file_path=str(target), content="x")
    response = chat(agent_gateway, prompt, {"permission_mode": "bypassPermissions"})
    assert response.status_code == 403 and response.json()["error"]["param"] == "claude_code.permission_mode"
    response = chat(agent_gateway, prompt, {"permission_mode": "acceptEdits"})
    assert "outside the session's workspace" in response.json()["choices"][0]["message"]["content"]
    assert not target.exists()


def test_a_fork_bomb_meets_the_process_cap(agent_gateway, fake):
    loop = "i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i+1)); done; wait"
    bomb = f"timeout 20 sh -c '{loop}' 2>&1 | sort | uniq -c | head -3"
    answer = run_commands(agent_gateway, bomb, "echo still-here")
    assert "Resource temporarily unavailable" in answer or "Cannot fork" in answer, answer
    assert "still-here" in answer


def test_tool_activity_shows_on_every_door(agent_gateway, fake):
    prompt = tool("Bash", command="echo from-bash", description="probe")
    openai = OpenAI(base_url=f"{agent_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    lines, events = "", []
    for chunk in openai.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": prompt}], stream=True, extra_body={"claude_code": {}}
    ):
        delta = chunk.choices[0].delta if chunk.choices else None
        lines += getattr(delta, "reasoning_content", None) or ""
        events += [getattr(delta, "claude_code_event", None)] if getattr(delta, "claude_code_event", None) else []
    assert "▶ Bash: echo from-bash" in lines and "◀ 1 line" in lines, lines
    assert [e["type"] for e in events] == ["tool_use", "tool_result"] and events[1]["output"] == "from-bash"

    anthropic = Anthropic(base_url=agent_gateway.url, api_key=API_KEY, max_retries=0)
    message = anthropic.messages.create(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": prompt}], extra_body={"claude_code": {}}
    )
    kinds = [block.type for block in message.content]
    assert kinds[:2] == ["mcp_tool_use", "mcp_tool_result"] and kinds[-1] == "text", kinds

    response = openai.responses.create(model="sonnet", input=prompt, extra_body={"claude_code": {}})
    calls = [item for item in response.output if item.type == "mcp_call"]
    assert [(c.server_label, c.name, c.output) for c in calls] == [("claude_code", "Bash", "from-bash")]


def test_max_turns_and_max_budget_end_a_run_with_a_clear_reason(agent_gateway, fake):
    steps = "\n".join(tool("Bash", command=f"echo {n}", description="step") for n in range(3))
    for limit in ({"max_turns": 1}, {"max_budget_usd": 0.000001}):
        response = chat(agent_gateway, steps, limit)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["claude_code_limit"] == next(iter(limit)), body
        assert body["usage"]["prompt_tokens"] >= 11, body["usage"]  # the steps that ran are counted


def test_usage_counts_every_step(agent_gateway, fake):
    steps = "\n".join(tool("Bash", command=f"echo {n}", description="step") for n in range(2))
    response = chat(agent_gateway, steps, {})
    assert response.status_code == 200, response.text
    calls = len(fake.requests)  # three model calls: two tool steps and the answer
    assert calls == 3 and response.json()["usage"]["prompt_tokens"] == 11 * calls, response.json()["usage"]


def test_another_sessions_workspace_is_out_of_reach(agent_gateway, fake):
    write = tool("Write", file_path="secret.txt", content="alice-secret")
    assert chat(agent_gateway, write, {"permission_mode": "acceptEdits"}, session="alice").status_code == 200
    workspaces = Path(agent_gateway.env["GATEWAY_DATA_DIR"]) / "workspaces"
    (secret,) = workspaces.glob("*/*/secret.txt")  # where it is on the host
    bash = tool("Bash", command=f"cat {secret}; ls {secret.parent.parent} | wc -l", description="peek")
    read = tool("Read", file_path=str(secret))
    response = chat(agent_gateway, f"{bash}\n{read}", {"permission_mode": "acceptEdits"}, session="mallory")
    answer = response.json()["choices"][0]["message"]["content"]
    assert "alice-secret" not in answer and "No such file" in answer, answer
    assert "outside the session's workspace" in answer


def test_an_added_folder_planted_as_a_link_is_refused(agent_gateway, fake):
    """Before: `ln -s /etc etclink` in one turn and `add_dirs: ["etclink"]` in the next made /etc an
    allowed root, and Read printed /etc/hostname."""
    planted = chat(
        agent_gateway, tool("Bash", command="ln -s /etc etclink; mkdir -p real", description="x"), {}, "links"
    )
    assert planted.status_code == 200, planted.text
    read = tool("Read", file_path="etclink/hostname")
    response = chat(agent_gateway, read, {"add_dirs": ["etclink"]}, "links")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("claude_code.add_dirs", "invalid_path") and "symbolic link" in error[
        "message"
    ]
    text = chat(agent_gateway, read, {"add_dirs": ["real"]}, "links").json()["choices"][0]["message"]["content"]
    assert "outside the session's workspace" in text, text


def test_a_glob_with_only_a_pattern_stays_in_the_workspace_and_under_read_rules(agent_gateway, fake):
    """Before: a Glob with only a `pattern` escaped the permission hook's Read deny rules, and a
    relative pattern (`../../*`) its workspace check."""
    setup = tool("Bash", command="mkdir -p secrets; echo k > secrets/key.txt; echo n > notes.txt", description="x")
    assert chat(agent_gateway, setup, {}, "globs").status_code == 200
    calls = [
        tool("Glob", pattern="/etc/host*"),
        tool("Glob", pattern="../../*"),
        tool("Glob", pattern="secrets/*"),
        tool("Grep", pattern="k", glob="secrets/*"),
        tool("Glob", pattern="*.txt"),
    ]
    claude_code = {"disallowed_tools": ["Read(secrets/**)"]}
    text = chat(agent_gateway, "\n".join(calls), claude_code, "globs").json()["choices"][0]["message"]["content"]
    results = text.removeprefix("results: ").split(" | ")
    assert "outside the session's workspace" in results[0] and "hostname" not in results[0], results
    assert "outside the session's workspace" in results[1], results
    assert "disallowed" in results[2] and "key.txt" not in results[2], results
    assert "disallowed" in results[3], results
    assert "notes.txt" in results[4], results


def look_then_answer(body: dict) -> Reply:
    """Claude says something, runs a command, then goes on: one agent turn in two steps."""
    last_user = max(i for i, m in enumerate(body["messages"]) if m["role"] == "user" and text_of(body["messages"][i]))
    ran = any(
        block.get("type") == "tool_use"
        for message in body["messages"][last_user:]
        if message["role"] == "assistant" and isinstance(message["content"], list)
        for block in message["content"]
    )
    if text_of(body["messages"][last_user]) != "Which files?":
        return Reply(text="Noted.")
    if ran:
        return Reply(text="Two files.")
    return Reply(text="Let me look.", tool_uses=[{"name": "Bash", "input": {"command": "ls", "description": "list"}}])


def test_the_steps_of_an_agent_turn_are_apart_in_a_chat_answer_streamed_or_not(agent_gateway, fake):
    """Chat has one content string: the text before the command ran and the text after it are two
    steps, with a blank line between, whole and streamed alike; and that is the answer the gateway
    remembers, so a client that sends it back goes on with the same live conversation."""
    fake.default = look_then_answer
    claude_code = {"permission_mode": "acceptEdits"}
    whole = chat(agent_gateway, "Which files?", claude_code)
    assert whole.status_code == 200, whole.text
    assert whole.json()["choices"][0]["message"]["content"] == "Let me look.\n\nTwo files."

    client = OpenAI(base_url=f"{agent_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    question = [{"role": "user", "content": "Which files?"}]
    stream = client.chat.completions.create(
        model="sonnet", messages=question, stream=True, extra_body={"claude_code": claude_code}
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == "Let me look.\n\nTwo files."

    # The client sends the answer back as it got it: the gateway knows that history, and the
    # conversation goes on where Claude Code holds it (its Bash call included), not rebuilt from
    # text (which it is when the text differs: checked with the steps run together).
    history = [*question, {"role": "assistant", "content": streamed}, {"role": "user", "content": "And?"}]
    again = client.chat.completions.create(model="sonnet", messages=history, extra_body={"claude_code": claude_code})
    assert again.choices[0].message.content == "Noted."
    held = fake.requests[-1]["messages"]
    assert any(
        block.get("type") == "tool_use"
        for message in held
        if isinstance(message["content"], list)
        for block in message["content"]
    ), held
