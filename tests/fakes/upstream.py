"""A fake Anthropic Messages API on 127.0.0.1 for the real Claude Code CLI to talk to.

It records every request body and answers with scripted replies, streamed as Anthropic SSE
(`message_start`, `content_block_*`, `message_delta`, `message_stop`). With no script it echoes
the last user text, so tests can see what reached "the model".

Run standalone for benchmarks and manual checks: `python -m tests.fakes.upstream --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer to one model call."""

    text: str = ""
    thinking: str = ""
    # {"name", "input"[, "id"]}; "partial_json" instead of "input" streams that text as the arguments
    # (JSON that max_tokens cut off, with stop_reason "max_tokens")
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # default: "tool_use" if tool_uses else "end_turn"
    chunk_size: int = 4  # characters per text delta
    delay: float = 0.0  # seconds between deltas
    status: int = 200  # != 200: an error reply
    error_type: str = "api_error"
    error_message: str = "fake upstream error"
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    fail_after: int | None = None  # send an SSE `error` event after this many text deltas


OUTPUT_LIMIT_HIT = "Output token limit hit"


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message, without the CLI's system reminders."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            b.get("text", "")
            for b in content
            if b.get("type") == "text" and not b.get("text", "").startswith("<system-reminder>")
        ]
        if texts:
            return texts[-1]
    return ""


def tool_results(body: dict[str, Any]) -> list[str]:
    """The text of every tool_result in the conversation, in order."""
    found = []
    for message in body.get("messages", []):
        for block in message.get("content") if isinstance(message.get("content"), list) else []:
            if block.get("type") == "tool_result":
                content = block.get("content")
                if isinstance(content, list):
                    content = " ".join(part.get("text", "[image]") for part in content if isinstance(part, dict))
                found.append(str(content))
    return found


def agent(*steps: list[tuple[str, dict[str, Any]]], prefix: str = "mcp__client__") -> Callable[[dict[str, Any]], Reply]:
    """An agent loop, as a `default`: step i calls the functions in steps[i] (several: parallel
    calls); once every step's results are in, the answer names the results it received, in order
    (`results: r1 | r2 | ...`). The step is read from the conversation itself (how many of its
    assistant turns called functions), so the script holds however the gateway rebuilds history."""

    def reply(body: dict[str, Any]) -> Reply:
        done = sum(
            1
            for message in body.get("messages", [])
            if message.get("role") == "assistant"
            and isinstance(message.get("content"), list)
            and any(block.get("type") == "tool_use" for block in message["content"])
        )
        if done < len(steps):
            return Reply(tool_uses=[{"name": prefix + name, "input": args} for name, args in steps[done]])
        return Reply(text="results: " + " | ".join(tool_results(body)))

    return reply


def step_loop_or_echo(body: dict[str, Any]) -> Reply:
    """The standalone server's default (benchmarks): a request that offers a function named `step`
    calls it again, for ever (an agent loop's steps); anything else is echoed."""
    for tool in body.get("tools") or []:
        if tool.get("name", "").endswith("__step"):
            return Reply(tool_uses=[{"name": tool["name"], "input": {"n": len(tool_results(body))}}])
    return echo(body)


TOOL_LINE = "TOOL:"


def tool_script(body: dict[str, Any]) -> Reply | None:
    """Built-in tool calls scripted in the prompt, one a line: `TOOL:Write {"file_path": ...}`. Step
    i calls the i-th (`TOOL:A {..} && TOOL:B {..}` on one line: both at once); once all are done,
    the answer lists every result since the prompt (`results: r1 | r2`). The prompt is the last
    user message with such lines; None if it is not the conversation's last user text."""
    messages = body.get("messages", [])
    texts = [i for i, m in enumerate(messages) if m.get("role") == "user" and _text_of(m)]
    if not texts or TOOL_LINE not in _text_of(messages[texts[-1]]):
        return None
    prompt = _text_of(messages[texts[-1]])
    since = {"messages": messages[texts[-1] :]}
    steps = [line.strip() for line in prompt.splitlines() if line.strip().startswith(TOOL_LINE)]
    done = sum(
        1
        for message in since["messages"]
        if message.get("role") == "assistant"
        and isinstance(message.get("content"), list)
        and any(block.get("type") == "tool_use" for block in message["content"])
    )
    if done >= len(steps):
        return Reply(text="results: " + " | ".join(tool_results(since)))
    calls = []
    for call in steps[done].split(" && "):
        name, _, arguments = call[len(TOOL_LINE) :].partition(" ")
        calls.append({"name": name, "input": json.loads(arguments or "{}")})
    return Reply(tool_uses=calls)


def _text_of(message: dict[str, Any]) -> str:
    """A message's own text (not tool results, not the CLI's system reminders)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(
        b.get("text", "")
        for b in content or []
        if b.get("type") == "text" and not b.get("text", "").startswith("<system-reminder>")
    )


def echo(body: dict[str, Any]) -> Reply:
    return Reply(text=f"echo: {last_user_text(body)}")


class FakeAnthropic:
    """The fake upstream: start(), then point ANTHROPIC_BASE_URL at `url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.requests: list[dict[str, Any]] = []  # bodies of POST /v1/messages, in order
        self.headers: list[dict[str, str]] = []
        # The credential each POST /v1/messages carried (x-api-key, or Authorization's bearer token).
        self.credentials: list[str] = []
        # Replies for requests that carry a given credential (a refused key or token), every time.
        self.by_credential: dict[str, Reply] = {}
        # Replies for requests whose body's model contains a given text ("opus"), every time.
        self.by_model: dict[str, Reply] = {}
        self.script: list[Reply] = []  # consumed first, one per model call
        self.default: Callable[[dict[str, Any]], Reply] = echo
        self.count_tokens_requests: list[dict[str, Any]] = []
        # Refuse, as Anthropic does, a request whose messages exceed this many tokens (4 characters
        # a token); None: no limit.
        self.context_tokens: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cli_env(self, config_dir: str) -> dict[str, str]:
        """The environment under which the real CLI talks only to this server."""
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-key",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CONFIG_DIR": config_dir,
        }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self.credentials.clear()
            self.by_credential.clear()
            self.by_model.clear()
            self.script.clear()
            self.count_tokens_requests.clear()
            self.default = echo
            self.context_tokens = None

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    # --- server -------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route("/health", lambda r: JSONResponse({"ok": True})),
            ]
        )

    def start(self) -> FakeAnthropic:
        self._server, self._thread = serve_in_thread(self.app(), self.host, self.port, "fake upstream")
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=5)

    async def _count_tokens(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.count_tokens_requests.append(body)
        return JSONResponse({"input_tokens": 42})

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        tokens = len(json.dumps(body.get("messages", []))) // 4
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            credential = request_credential(request.headers)
            self.credentials.append(credential)
            too_long = self.context_tokens is not None and tokens > self.context_tokens
            # Claude Code's own continuation after max_tokens is often on the wire already when the
            # gateway ends the turn, and may arrive during the next test: it takes no scripted reply.
            late = OUTPUT_LIMIT_HIT in last_user_text(body)
            reply = self.by_credential.get(credential) or next(
                (reply for name, reply in self.by_model.items() if name in str(body.get("model"))), None
            )
            if reply is None:
                reply = None if too_long or late or not self.script else self.script.pop(0)
        if too_long:
            reply = Reply(
                status=400,
                error_type="invalid_request_error",
                error_message=f"prompt is too long: {tokens} tokens > {self.context_tokens} maximum",
            )
        if reply is None:
            reply = tool_script(body) or self.default(body)
        if _uses_tools(body) and not body.get("tools"):  # as Anthropic's API answers it
            return JSONResponse(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Requests which include `tool_use` or `tool_result` blocks must define tools.",
                    },
                },
                status_code=400,
            )
        if reply.status != 200:
            return JSONResponse(
                {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}},
                status_code=reply.status,
                headers=reply.headers,
            )
        if not body.get("stream"):
            return JSONResponse(_message_json(body, reply))
        return StreamingResponse(_sse(body, reply), media_type="text/event-stream", headers=reply.headers)


def serve_in_thread(
    app: Any, host: str, port: int, name: str, lifespan: str = "off"
) -> tuple[uvicorn.Server, threading.Thread]:
    """A uvicorn server for `app` on a daemon thread, once it listens (the fakes' servers)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    return server, thread


def request_credential(headers: Mapping[str, str]) -> str:
    """The credential a request carries: its x-api-key, or its Authorization bearer token."""
    bearer = headers.get("authorization", "")
    return headers.get("x-api-key") or (bearer[7:] if bearer[:7].lower() == "bearer " else bearer)


def _uses_tools(body: dict[str, Any]) -> bool:
    return any(
        isinstance(message.get("content"), list) and block.get("type") in ("tool_use", "tool_result")
        for message in body.get("messages", [])
        for block in message["content"]
    )


def _message_json(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig"})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for tool in reply.tool_uses:
        content.append(
            {
                "type": "tool_use",
                "id": tool.get("id") or _tool_id(),
                "name": tool["name"],
                "input": tool.get("input", {}),
            }
        )
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-fake"),
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage(reply),
    }


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
    }


def _tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(size, 1))] or [""]


async def _sse(body: dict[str, Any], reply: Reply):
    start_usage = _usage(reply) | {"output_tokens": 1}
    yield _event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-fake"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
    )
    index = 0

    async def pause() -> None:
        if reply.delay:
            await asyncio.sleep(reply.delay)

    if reply.thinking:
        yield _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        for piece in _chunks(reply.thinking, reply.chunk_size):
            await pause()
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}},
            )
        yield _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "c2ln"}},
        )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    if reply.text or not reply.tool_uses:
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        for n, piece in enumerate(_chunks(reply.text, reply.chunk_size)):
            if reply.fail_after is not None and n == reply.fail_after:
                yield _event(
                    "error", {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
                )
                return
            await pause()
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    for tool in reply.tool_uses:
        yield _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": tool.get("id") or _tool_id(),
                    "name": tool["name"],
                    "input": {},
                },
            },
        )
        for piece in _chunks(tool["partial_json"] if "partial_json" in tool else json.dumps(tool["input"]), 8):
            await pause()
            yield _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeAnthropic(port=args.port)
    fake.default = step_loop_or_echo
    config = uvicorn.Config(fake.app(), host=fake.host, port=fake.port, log_level="warning")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
