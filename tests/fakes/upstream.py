"""A fake Anthropic Messages API on 127.0.0.1 for the real Claude Code CLI to talk to.

It records every request body and answers with scripted replies, streamed as Anthropic SSE
(`message_start`, `content_block_*`, `message_delta`, `message_stop`, written by app/demo/wire.py,
which the gateway's demo mode shares). With no script it echoes the last user text, so tests can
see what reached "the model".

Run standalone for benchmarks and manual checks: `python -m tests.fakes.upstream --port 8765`.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.demo.upstream import free_port, offline_env, serve_in_thread
from app.demo.wire import Reply, last_user_text, message_json, sse, text_of, tool_results, uses_tools

from .server_tools import claude_codes_own, web_search_reply

__all__ = ["FakeAnthropic", "Reply", "agent", "echo", "last_user_text", "serve_in_thread", "tool_results"]


OUTPUT_LIMIT_HIT = "Output token limit hit"


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
    texts = [i for i, m in enumerate(messages) if m.get("role") == "user" and text_of(m)]
    if not texts or TOOL_LINE not in text_of(messages[texts[-1]]):
        return None
    prompt = text_of(messages[texts[-1]])
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


def echo(body: dict[str, Any]) -> Reply:
    return Reply(text=f"echo: {last_user_text(body)}")


class FakeAnthropic:
    """The fake upstream: start(), then point ANTHROPIC_BASE_URL at `url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
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
        return offline_env(self.url, "sk-ant-fake-key", config_dir)

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
            # Claude Code's own model calls for WebSearch and WebFetch take no scripted reply.
            searching = claude_codes_own(body)
            if reply is None:
                reply = None if too_long or late or searching or not self.script else self.script.pop(0)
        if too_long:
            reply = Reply(
                status=400,
                error_type="invalid_request_error",
                error_message=f"prompt is too long: {tokens} tokens > {self.context_tokens} maximum",
            )
        if reply is None:
            reply = web_search_reply(body) or tool_script(body) or self.default(body)
        if uses_tools(body) and not body.get("tools"):  # as Anthropic's API answers it
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
            return JSONResponse(message_json(body, reply))
        return StreamingResponse(sse(body, reply), media_type="text/event-stream", headers=reply.headers)


def request_credential(headers: Mapping[str, str]) -> str:
    """The credential a request carries: its x-api-key, or its Authorization bearer token."""
    bearer = headers.get("authorization", "")
    return headers.get("x-api-key") or (bearer[7:] if bearer[:7].lower() == "bearer " else bearer)


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
