"""The fake `claude` CLI (tests/fakes/fake_claude.py), driven through the real claude-agent-sdk.

Every test talks to the fake exactly as the gateway does: `ClaudeSDKClient` / `query()` with
`cli_path` pointing at the fake. The `e2e` tests run the same turns on the real bundled CLI
(against tests/fakes/upstream.py) and check that the SDK sees the same thing from both.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ProcessError,
    ResultError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    UserMessage,
    get_session_messages,
    query,
)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAKE = ROOT / "tests" / "fakes" / "fake_claude.py"
EXTRA_USAGE = "Third-party apps now draw from your extra usage, not your plan limits. Enable extra usage to continue."
SERVER_SIDE = "This is a server-side issue, usually temporary \u2014 try again in a moment."

# What the real CLI (2.1.329) emits for each upstream status, given the upstream message
# "fake upstream error" (400: the extra-usage message): AssistantMessage.error and the text.
API_ERRORS = {
    429: ("rate_limit", "API Error: Request rejected (429) \u00b7 fake upstream error"),
    401: ("authentication_failed", "Failed to authenticate. API Error: 401 fake upstream error"),
    500: ("server_error", f"API Error: 500 fake upstream error. {SERVER_SIDE}"),
    529: ("server_error", f"API Error: 529 fake upstream error. {SERVER_SIDE}"),
    400: ("unknown", f"API Error: 400 {EXTRA_USAGE}"),
}


# ---- helpers ---------------------------------------------------------------------------------


def fake_env(config_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for the fake. This interpreter's directory goes first on PATH so that the
    fake's `#!/usr/bin/env python3` finds a plain python3 rather than a slow shim (pyenv's
    costs ~90 ms per start)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {"CLAUDE_CONFIG_DIR": str(config_dir), "PATH": path, **extra}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "claude-config"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work dir_1"  # characters the transcript directory name must replace
    path.mkdir()
    return path


@pytest.fixture
def options(config_dir: Path, workdir: Path):
    def make(env: dict[str, str] | None = None, **kwargs) -> ClaudeAgentOptions:
        settings = {
            "cli_path": str(FAKE),
            "cwd": str(workdir),
            "env": fake_env(config_dir, **(env or {})),
            "tools": [],
            "setting_sources": [],
            "include_partial_messages": True,
        }
        settings.update(kwargs)
        return ClaudeAgentOptions(**settings)

    return make


async def turn(client: ClaudeSDKClient, prompt) -> list:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


async def collect(prompt, opts: ClaudeAgentOptions) -> list:
    return [m async for m in query(prompt=prompt, options=opts)]


def of(messages: list, kind: type) -> list:
    return [m for m in messages if isinstance(m, kind)]


def texts(messages: list) -> list[str]:
    return [b.text for m in of(messages, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]


def deltas(messages: list, delta_type: str = "text_delta") -> list[str]:
    key = {"text_delta": "text", "thinking_delta": "thinking"}[delta_type]
    return [
        m.event["delta"][key]
        for m in of(messages, StreamEvent)
        if m.event["type"] == "content_block_delta" and m.event["delta"]["type"] == delta_type
    ]


def result_of(messages: list) -> ResultMessage:
    results = of(messages, ResultMessage)
    assert len(results) == 1, messages
    assert messages[-1] is results[0]
    return results[0]


def init_of(messages: list) -> SystemMessage:
    inits = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "init"]
    assert len(inits) == 1
    return inits[0]


def chunks4(text: str) -> list[str]:
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def signature(messages: list) -> list[tuple[str, str | None]]:
    """The shape of a turn as the SDK yields it: message types, system subtypes, event types."""
    shape = []
    for m in messages:
        if isinstance(m, SystemMessage):
            shape.append(("system", m.subtype))
        elif isinstance(m, StreamEvent):
            delta = m.event.get("delta", {}).get("type") if m.event["type"] == "content_block_delta" else None
            shape.append(("stream_event", f"{m.event['type']}:{delta}" if delta else m.event["type"]))
        elif isinstance(m, AssistantMessage):
            shape.append(("assistant", ",".join(type(b).__name__ for b in m.content)))
        elif isinstance(m, UserMessage):
            shape.append(("user", None))
        elif isinstance(m, ResultMessage):
            shape.append(("result", m.subtype))
        else:
            shape.append((type(m).__name__, None))
    return shape


# ---- start-up and plain turns ----------------------------------------------------------------


def test_answers_initialize_at_once(config_dir: Path):
    """A spawn answers the SDK's initialize request first thing (its speed is bench/'s business)."""
    env = {**os.environ, **fake_env(config_dir)}
    request = {"type": "control_request", "request_id": "req_1", "request": {"subtype": "initialize", "hooks": None}}
    proc = subprocess.Popen(
        [str(FAKE), "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    proc.stdin.write((json.dumps(request) + "\n").encode())
    proc.stdin.flush()
    line = json.loads(proc.stdout.readline())
    proc.stdin.close()
    assert proc.wait(timeout=5) == 0
    assert line["type"] == "control_response"
    assert line["response"]["request_id"] == "req_1"


def test_version_flag():
    out = subprocess.run([str(FAKE), "--version"], capture_output=True, text=True, env=fake_env(Path("/nonexistent")))
    assert out.returncode == 0
    assert out.stdout.strip() == "2.1.329 (Claude Code)"


async def test_initialize_response_like_the_real_cli(options):
    async with ClaudeSDKClient(options()) as client:
        info = await client.get_server_info()
    assert info["claude_code_version"] == "2.1.329"
    assert isinstance(info["pid"], int)
    models = {m["value"]: m["resolvedModel"] for m in info["models"]}
    assert models == {
        "default": "claude-opus-5-5",
        "opus": "claude-opus-5-5",
        "fable": "claude-fable-5-2",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
    }
    assert {"name", "description", "argumentHint", "builtin"} <= set(info["commands"][0])


async def test_text_turn_with_partial_messages(options, config_dir):
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, "hello there")

    init = init_of(messages)
    assert messages[0] is init
    assert init.data["claude_code_version"] == "2.1.329"
    assert init.data["model"] == "claude-opus-5-5"
    assert init.data["cwd"].endswith("work dir_1")
    assert [m.subtype for m in of(messages, SystemMessage)] == ["init", "status"]

    assert deltas(messages) == ["echo", ": he", "llo ", "ther", "e"]
    events = [m.event["type"] for m in of(messages, StreamEvent)]
    assert events[0] == "message_start" and events[1] == "content_block_start"
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    # as with the real CLI, the block's assistant frame comes just before its content_block_stop
    kinds = [type(m).__name__ for m in messages]
    assert kinds.index("AssistantMessage") == len(kinds) - 5

    (assistant,) = of(messages, AssistantMessage)
    assert assistant.content == [TextBlock(text="echo: hello there")]
    assert assistant.model == "claude-opus-5-5"
    assert assistant.error is None

    result = result_of(messages)
    assert result.subtype == "success"
    assert result.is_error is False
    assert result.result == "echo: hello there"
    assert result.stop_reason == "end_turn"
    assert result.num_turns == 1
    assert result.session_id == init.data["session_id"] == assistant.session_id
    assert result.usage["input_tokens"] == 10
    assert result.usage["output_tokens"] == 5  # one per chunk
    assert result.usage["cache_read_input_tokens"] == 3
    assert result.usage["cache_creation_input_tokens"] == 2
    assert result.total_cost_usd > 0
    assert set(result.model_usage) == {"claude-opus-5-5"}
    assert result.api_error_status is None
    assert result.terminal_reason == "completed"


async def test_no_stream_events_without_include_partial_messages(options):
    async with ClaudeSDKClient(options(include_partial_messages=False)) as client:
        messages = await turn(client, "quiet")
    assert of(messages, StreamEvent) == []
    assert signature(messages) == [("system", "init"), ("assistant", "TextBlock"), ("result", "success")]
    assert result_of(messages).result == "echo: quiet"


async def test_one_process_many_turns_keeps_memory(options, tmp_path):
    log = tmp_path / "fake.log"
    async with ClaudeSDKClient(options(env={"FAKE_CLAUDE_LOG": str(log)})) as client:
        first = await turn(client, "[[turns]]")
        second = await turn(client, "two")
        third = await turn(client, "[[turns]]")
        history = await turn(client, "[[history]]")
    assert result_of(first).result == "turns: 1"
    assert result_of(second).result == "echo: two"
    assert result_of(third).result == "turns: 3"
    assert json.loads(result_of(history).result) == {
        "history": [
            ["user", "[[turns]]"],
            ["assistant", "turns: 1"],
            ["user", "two"],
            ["assistant", "echo: two"],
            ["user", "[[turns]]"],
            ["assistant", "turns: 3"],
        ]
    }
    session_ids = {result_of(m).session_id for m in (first, second, third, history)}
    assert len(session_ids) == 1
    assert [e["event"] for e in read_log(log)] == ["start", "user", "user", "user", "user"]


async def test_messages_sent_while_a_turn_runs_are_queued(options):
    async with ClaudeSDKClient(options()) as client:
        await client.query("[[slow]] one")
        await client.query("two")
        first = [m async for m in client.receive_response()]
        second = [m async for m in client.receive_response()]
    assert result_of(first).result == "echo: [[slow]] one"
    assert result_of(second).result == "echo: two"


async def test_query_one_shot(options):
    messages = await collect("one shot", options())
    assert texts(messages) == ["echo: one shot"]
    assert result_of(messages).is_error is False


async def test_query_with_message_stream_and_images(options):
    async def prompts():
        yield {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "text", "text": "here"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                ],
            },
            "parent_tool_use_id": None,
            "session_id": "default",
        }

    messages = await collect(prompts(), options())
    assert result_of(messages).result == "echo: look here [image:image/png] [image:https://example.com/cat.jpg]"


async def test_thinking(options):
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, "[[think]] why")
    assistants = of(messages, AssistantMessage)
    assert [type(b) for m in assistants for b in m.content] == [ThinkingBlock, TextBlock]
    assert assistants[0].content[0].thinking == "thinking about it"
    assert assistants[0].content[0].signature
    assert assistants[1].content[0].text == "echo: [[think]] why"
    assert assistants[0].message_id == assistants[1].message_id
    assert "".join(deltas(messages, "thinking_delta")) == "thinking about it"
    assert "".join(deltas(messages)) == "echo: [[think]] why"
    thinking_tokens = [m for m in of(messages, SystemMessage) if m.subtype == "thinking_tokens"]
    assert len(thinking_tokens) == len(chunks4("thinking about it"))
    assert result_of(messages).result == "echo: [[think]] why"


async def test_max_tokens(options):
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, "[[max_tokens]] cut")
    result = result_of(messages)
    assert result.stop_reason == "max_tokens"
    assert result.is_error is False
    assert result.result == "echo: [[max_tokens]] cut"
    (delta,) = [m.event for m in of(messages, StreamEvent) if m.event["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "max_tokens"


async def test_max_tokens_exhausted_like_the_real_cli(options):
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, "[[max_tokens_exhausted]]")
        after = await turn(client, "still here")
    synthetic_users = of(messages, UserMessage)
    assert len(synthetic_users) == 3
    assert synthetic_users[0].content[0].text.startswith("Output token limit hit.")
    errors = [m for m in of(messages, AssistantMessage) if m.error]
    assert [m.error for m in errors] == ["max_output_tokens"]
    assert errors[0].model == "<synthetic>"
    result = result_of(messages)
    assert result.is_error is True and result.subtype == "success"
    assert result.num_turns == 4
    assert result.result.startswith("API Error: Claude's response exceeded the 128000 output token maximum.")
    assert result_of(after).result == "echo: still here"


async def test_long_output(options):
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, "[[long 3000]]")
    expected = " ".join(f"w{i}" for i in range(3000))
    result = result_of(messages)
    assert result.result == expected
    assert texts(messages) == [expected]
    assert result.usage["output_tokens"] == len(chunks4(expected))


async def test_system_prompt(options):
    async with ClaudeSDKClient(options(system_prompt="You are a pirate")) as client:
        messages = await turn(client, "[[system]]")
    assert result_of(messages).result == "system: You are a pirate"
    async with ClaudeSDKClient(options()) as client:  # the SDK passes --system-prompt ""
        messages = await turn(client, "[[system]]")
    assert result_of(messages).result == "system: "


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (None, "claude-opus-5-5"),
        ("sonnet", "claude-sonnet-5-5"),
        ("opus", "claude-opus-5-5"),
        ("haiku", "claude-haiku-5-5"),
        ("claude-custom-1", "claude-custom-1"),
    ],
)
async def test_model(options, model, expected):
    async with ClaudeSDKClient(options(model=model)) as client:
        messages = await turn(client, "hi")
    assert init_of(messages).data["model"] == expected
    assert [m.model for m in of(messages, AssistantMessage)] == [expected]
    assert of(messages, StreamEvent)[0].event["message"]["model"] == expected
    assert set(result_of(messages).model_usage) == {expected}


async def test_set_model(options):
    async with ClaudeSDKClient(options()) as client:
        await client.set_model("haiku")
        messages = await turn(client, "hi")
    assert [m.model for m in of(messages, AssistantMessage)] == ["claude-haiku-5-5"]


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(API_ERRORS))
async def test_api_error_on_a_client(options, status):
    error, text = API_ERRORS[status]
    async with ClaudeSDKClient(options()) as client:
        messages = await turn(client, f"[[error {status}]]")
        after = await turn(client, "again")  # the process survives an API error

    assert signature(messages) == [
        ("system", "init"),
        ("system", "status"),
        ("assistant", "TextBlock"),
        ("result", "success"),
    ]
    (assistant,) = of(messages, AssistantMessage)
    assert assistant.error == error
    assert assistant.model == "<synthetic>"
    assert assistant.content == [TextBlock(text=text)]
    assert assistant.stop_reason == "stop_sequence"
    result = result_of(messages)
    assert result.is_error is True
    assert result.subtype == "success"
    assert result.api_error_status == status
    assert result.result == text
    assert result.stop_reason == "stop_sequence"
    assert result.terminal_reason == "api_error"
    assert result.usage["output_tokens"] == 0
    assert result_of(after).result == "echo: again"


@pytest.mark.parametrize("status", sorted(API_ERRORS))
async def test_api_error_through_query_raises_result_error(options, status):
    error, text = API_ERRORS[status]
    seen = []
    with pytest.raises(ResultError) as caught:
        async for message in query(prompt=f"[[error {status}]]", options=options()):
            seen.append(message)
    assert result_of(seen).api_error_status == status  # yielded before the exception
    assert of(seen, AssistantMessage)[0].error == error
    exc = caught.value
    assert exc.exit_code == 1
    assert exc.api_error_status == status
    assert exc.result == text
    assert exc.subtype == "success"
    assert exc.terminal_reason == "api_error"
    assert str(exc).startswith(f"Claude Code returned an error result: {text}")


async def test_server_errors_name_the_gateway(options):
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9999"}
    async with ClaudeSDKClient(options(env=env)) as client:
        messages = await turn(client, "[[error 529]]")
    assert result_of(messages).result == (
        f"API Error: 529 fake upstream error. {SERVER_SIDE} If it persists, check your inference gateway"
        " (127.0.0.1:9999)."
    )


async def test_retry_frames_when_retries_are_enabled(options):
    async with ClaudeSDKClient(options(env={"CLAUDE_CODE_MAX_RETRIES": "2"})) as client:
        messages = await turn(client, "[[error 429]]")
    retries = [m.data for m in of(messages, SystemMessage) if m.subtype == "api_retry"]
    assert [(r["attempt"], r["max_retries"], r["error_status"], r["error"]) for r in retries] == [
        (1, 2, 429, "rate_limit"),
        (2, 2, 429, "rate_limit"),
    ]
    assert result_of(messages).api_error_status == 429


async def test_crash(options):
    stderr: list[str] = []
    with pytest.raises(ProcessError) as caught:
        await collect("[[crash]]", options(stderr=stderr.append))
    assert not isinstance(caught.value, ResultError)
    assert caught.value.exit_code == 3
    assert "fake claude: simulated crash" in stderr

    async with ClaudeSDKClient(options()) as client:
        await client.query("[[crash]]")
        with pytest.raises(ProcessError) as caught:
            async for _ in client.receive_response():
                pass
    assert caught.value.exit_code == 3


async def test_unauthenticated(options):
    async with ClaudeSDKClient(options(env={"FAKE_CLAUDE_NO_AUTH": "1"})) as client:
        info = await client.get_server_info()
        messages = await turn(client, "hi")
    assert "apiKeySource" not in info["account"]
    assert init_of(messages).data["apiKeySource"] == "none"
    (assistant,) = of(messages, AssistantMessage)
    assert assistant.error == "authentication_failed"
    assert assistant.content == [TextBlock(text="Not logged in \u00b7 Please run /login")]
    result = result_of(messages)
    assert result.is_error is True
    assert result.api_error_status is None
    assert result.result == "Not logged in \u00b7 Please run /login"

    with pytest.raises(ResultError) as caught:
        await collect("hi", options(env={"FAKE_CLAUDE_NO_AUTH": "1"}))
    assert caught.value.result == "Not logged in \u00b7 Please run /login"
    assert caught.value.api_error_status is None


# ---- interrupts, hangs -----------------------------------------------------------------------


async def test_interrupt_while_streaming(options):
    async with ClaudeSDKClient(options()) as client:
        await client.query("[[slow]] please take your time")
        messages = []
        async for message in client.receive_response():
            messages.append(message)
            if deltas([message]):
                await client.interrupt()
        after = await turn(client, "again")  # the process stays usable

    full = "echo: [[slow]] please take your time"
    streamed = "".join(deltas(messages))
    assert streamed and streamed != full
    (partial,) = of(messages, AssistantMessage)
    assert partial.content == [TextBlock(text=streamed)]
    (marker,) = of(messages, UserMessage)
    assert marker.content == [TextBlock(text="[Request interrupted by user]")]
    events = [m.event for m in of(messages, StreamEvent)]
    assert [e["type"] for e in events[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] is None
    result = result_of(messages)
    assert result.subtype == "error_during_execution"
    assert result.is_error is True
    assert result.terminal_reason == "aborted_streaming"
    assert result.stop_reason is None
    assert result.result is None
    assert result.num_turns == 2
    assert result_of(after).result == "echo: again"


async def test_interrupt_a_hung_turn(options):
    async with ClaudeSDKClient(options()) as client:
        await client.query("[[hang]]")
        messages = []
        async for message in client.receive_response():
            messages.append(message)
            if isinstance(message, SystemMessage) and message.subtype == "status":
                await asyncio.sleep(0.2)  # nothing more arrives while it hangs
                await client.interrupt()
        after = await turn(client, "[[turns]]")
    assert signature(messages) == [
        ("system", "init"),
        ("system", "status"),
        ("user", None),
        ("result", "error_during_execution"),
    ]
    assert result_of(after).result == "turns: 2"


async def test_interrupt_when_idle_is_harmless(options):
    async with ClaudeSDKClient(options()) as client:
        await client.interrupt()
        messages = await turn(client, "hi")
    assert result_of(messages).result == "echo: hi"


async def test_hang_ends_on_stdin_eof(options):
    start = time.monotonic()
    messages = await collect("[[hang]]", options())  # query() closes stdin after the prompt
    assert time.monotonic() - start < 5
    assert signature(messages) == [("system", "init"), ("system", "status")]


def test_exit_code_follows_the_last_result(config_dir, workdir):
    """Like the real CLI: on stdin EOF, exit 1 if the last result was an error, else 0."""

    def run(*prompts: str) -> int:
        lines = [{"type": "control_request", "request_id": "r1", "request": {"subtype": "initialize"}}]
        lines += [{"type": "user", "message": {"role": "user", "content": p}, "session_id": ""} for p in prompts]
        proc = subprocess.run(
            [str(FAKE), "--output-format", "stream-json", "--input-format", "stream-json", "--verbose"],
            input="".join(json.dumps(line) + "\n" for line in lines),
            capture_output=True,
            text=True,
            cwd=workdir,
            env={**os.environ, **fake_env(config_dir)},
            timeout=10,
        )
        frames = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [f["type"] for f in frames].count("result") == len(prompts)
        return proc.returncode

    assert run("hi") == 0
    assert run("[[error 429]]") == 1
    assert run("[[error 429]]", "hi") == 0
    assert run("hi", "[[error 500]]") == 1


# ---- sessions, resume, transcripts --------------------------------------------------------------


async def test_session_id_and_transcript(options, config_dir, workdir, monkeypatch):
    session_id = str(uuid.uuid4())
    async with ClaudeSDKClient(options(session_id=session_id)) as client:
        messages = await turn(client, "hello")
    assert init_of(messages).data["session_id"] == session_id
    assert result_of(messages).session_id == session_id

    project = re.sub(r"[^a-zA-Z0-9]", "-", str(workdir))
    transcript = config_dir / "projects" / project / f"{session_id}.jsonl"
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["user", "assistant"]
    assert lines[0]["parentUuid"] is None
    assert lines[1]["parentUuid"] == lines[0]["uuid"]
    assert {line["sessionId"] for line in lines} == {session_id}
    assert lines[0]["message"] == {"role": "user", "content": "hello"}
    assert lines[1]["message"]["content"] == [{"type": "text", "text": "echo: hello"}]

    # the SDK's own transcript reader understands it
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    read = get_session_messages(session_id, directory=str(workdir))
    assert [m.type for m in read] == ["user", "assistant"]


async def test_resume_knows_the_history(options):
    session_id = str(uuid.uuid4())
    async with ClaudeSDKClient(options(session_id=session_id)) as client:
        await turn(client, "first")
        await turn(client, "[[think]] second")

    async with ClaudeSDKClient(options(resume=session_id)) as client:  # a fresh process
        history = await turn(client, "[[history]]")
        turns = await turn(client, "[[turns]]")
    assert init_of(history).data["session_id"] == session_id
    assert json.loads(result_of(history).result) == {
        "history": [
            ["user", "first"],
            ["assistant", "echo: first"],
            ["user", "[[think]] second"],
            ["assistant", "echo: [[think]] second"],
        ]
    }
    assert result_of(turns).result == "turns: 4"

    async with ClaudeSDKClient(options(resume=session_id)) as client:  # and it was appended to
        again = await turn(client, "[[turns]]")
    assert result_of(again).result == "turns: 5"


async def test_resume_unknown_session(options):
    missing = "11111111-2222-3333-4444-555555555555"
    text = f"No conversation found with session ID: {missing}"
    stderr: list[str] = []
    client = ClaudeSDKClient(options(resume=missing, stderr=stderr.append))
    with pytest.raises(ResultError) as caught:
        await client.connect()
    exc = caught.value
    assert exc.exit_code == 1
    assert exc.subtype == "error_during_execution"
    assert exc.errors == [text]
    assert exc.session_id == missing
    assert str(exc) == f"Claude Code returned an error result: {text} (exit code: 1)"
    assert text in stderr

    seen = []
    with pytest.raises(ResultError):
        async for message in query(prompt="hi", options=options(resume=missing)):
            seen.append(message)
    assert seen == []  # it fails during initialize, before any message


async def test_session_id_already_in_use(options):
    session_id = str(uuid.uuid4())
    async with ClaudeSDKClient(options(session_id=session_id)) as client:
        await turn(client, "first")
    stderr: list[str] = []
    client = ClaudeSDKClient(options(session_id=session_id, stderr=stderr.append))
    with pytest.raises(ProcessError) as caught:  # a bare exit 1: no result, so no ResultError
        await client.connect()
    assert not isinstance(caught.value, ResultError)
    assert caught.value.exit_code == 1
    assert stderr == [f"Error: Session ID {session_id} is already in use."]


async def test_log(options, tmp_path, workdir):
    log = tmp_path / "fake.log"
    env = {"FAKE_CLAUDE_LOG": str(log), "ANTHROPIC_BASE_URL": "http://127.0.0.1:1", "UNRELATED_VAR": "x"}
    async with ClaudeSDKClient(options(env=env, model="sonnet")) as client:
        await turn(client, "logged")
    await collect("again", options(env=env))

    entries = read_log(log)
    assert [e["event"] for e in entries] == ["start", "user", "start", "user"]
    start, user = entries[0], entries[1]
    assert start["pid"] == user["pid"] != entries[2]["pid"]
    assert start["argv"][0].endswith("fake_claude.py")
    assert "--model" in start["argv"] and "sonnet" in start["argv"]
    assert Path(start["cwd"]) == workdir
    assert start["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert start["env"]["CLAUDE_CODE_ENTRYPOINT"] == "sdk-py"
    assert all(k.startswith(("CLAUDE_", "ANTHROPIC_")) for k in start["env"])
    assert user["message"] == {"role": "user", "content": "logged"}
    assert entries[3]["message"]["content"] == "again"


# ---- the real CLI, for comparison ---------------------------------------------------------------


@pytest.fixture
def upstream():
    from tests.fakes.upstream import FakeAnthropic

    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


def real_options(upstream, tmp_path: Path, **kwargs) -> ClaudeAgentOptions:
    config = tmp_path / "real-config"
    config.mkdir(exist_ok=True)
    work = tmp_path / "real-work"
    work.mkdir(exist_ok=True)
    return ClaudeAgentOptions(
        env=upstream.cli_env(str(config)),
        cwd=str(work),
        tools=[],
        setting_sources=[],
        include_partial_messages=True,
        **kwargs,
    )  # no cli_path: the bundled CLI


@pytest.mark.e2e
async def test_same_as_the_real_cli_for_a_text_turn(upstream, options, tmp_path):
    async with ClaudeSDKClient(real_options(upstream, tmp_path)) as client:
        real = await turn(client, "hello there")
    async with ClaudeSDKClient(options()) as client:
        fake = await turn(client, "hello there")

    assert signature(fake) == signature(real)
    assert texts(fake) == texts(real) == ["echo: hello there"]
    assert deltas(fake) == deltas(real)
    real_result, fake_result = result_of(real), result_of(fake)
    assert set(fake_result.usage) == set(real_result.usage)
    assert set(init_of(fake).data) == set(init_of(real).data)
    for field in ("subtype", "is_error", "num_turns", "stop_reason", "result", "terminal_reason", "api_error_status"):
        assert getattr(fake_result, field) == getattr(real_result, field), field


@pytest.mark.e2e
@pytest.mark.parametrize("status", sorted(API_ERRORS))
async def test_same_as_the_real_cli_for_api_errors(upstream, options, tmp_path, status):
    from tests.fakes.upstream import Reply

    kind = {
        429: "rate_limit_error",
        401: "authentication_error",
        500: "api_error",
        529: "overloaded_error",
        400: "invalid_request_error",
    }[status]
    message = EXTRA_USAGE if status == 400 else "fake upstream error"
    # the real CLI retries a 400 twice (dropping beta headers) before giving up
    upstream.enqueue(*[Reply(status=status, error_type=kind, error_message=message)] * (3 if status == 400 else 1))
    async with ClaudeSDKClient(real_options(upstream, tmp_path)) as client:
        real = await turn(client, "boom")
    env = {"ANTHROPIC_BASE_URL": upstream.url}  # named in the 5xx texts
    async with ClaudeSDKClient(options(env=env)) as client:
        fake = await turn(client, f"[[error {status}]]")

    assert signature(fake) == signature(real)
    assert [m.error for m in of(fake, AssistantMessage)] == [m.error for m in of(real, AssistantMessage)]
    assert texts(fake) == texts(real)
    real_result, fake_result = result_of(real), result_of(fake)
    for field in ("subtype", "is_error", "num_turns", "stop_reason", "result", "terminal_reason", "api_error_status"):
        assert getattr(fake_result, field) == getattr(real_result, field), field
    assert set(fake_result.usage) == set(real_result.usage)


@pytest.mark.e2e
async def test_same_as_the_real_cli_for_an_interrupt(upstream, options, tmp_path):
    from tests.fakes.upstream import Reply

    async def interrupted(client: ClaudeSDKClient, prompt: str) -> list:
        await client.query(prompt)
        messages = []
        async for message in client.receive_response():
            messages.append(message)
            if deltas([message]) and len(deltas(messages)) == 2:
                await client.interrupt()
        return messages

    upstream.enqueue(Reply(text="echo: [[slow]] a fairly long answer to interrupt", delay=0.2))
    async with ClaudeSDKClient(real_options(upstream, tmp_path)) as client:
        real = await interrupted(client, "slow please")
        real_after = await turn(client, "again")
    async with ClaudeSDKClient(options()) as client:
        fake = await interrupted(client, "[[slow]] a fairly long answer to interrupt")
        fake_after = await turn(client, "again")

    def tail(messages):  # from the interrupt on
        shape = signature(messages)
        return shape[shape.index(("assistant", "TextBlock")) :]

    assert tail(fake) == tail(real)
    full = "echo: [[slow]] a fairly long answer to interrupt"
    for messages in (real, fake):  # a partial text, cut where the interrupt landed
        (partial,) = texts(messages)
        assert partial and full.startswith(partial) and partial != full
    real_result, fake_result = result_of(real), result_of(fake)
    for field in ("subtype", "is_error", "num_turns", "stop_reason", "result", "terminal_reason", "errors"):
        assert getattr(fake_result, field) == getattr(real_result, field), field
    assert result_of(fake_after).result == result_of(real_after).result == "echo: again"
