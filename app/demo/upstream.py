"""The demo upstream: a small fake Anthropic Messages API on loopback with canned, clearly labelled
answers, served on a thread of the gateway's own process, and the environment under which the real
Claude Code CLI talks to it and to nothing else.

What it answers (deterministic, no model):
- a prompt that names a tool the request offers (its exact name, e.g. `get_weather`, or the short
  name of an MCP tool `mcp__client__get_weather`) calls that tool, with placeholder arguments for
  the schema's required properties;
- once tool results came back: `[demo] The tool returned: r1 | r2`;
- anything else: `[demo] You said: <last user text>`.
`/v1/messages/count_tokens` estimates 4 characters a token.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..engine.transcripts.local import CONTINUE_AFTER_TOOLS
from .wire import Reply, last_user_text, message_json, sse, text_of, tool_results

LABEL = "[demo]"
API_KEY = "demo"  # what the CLI sends the demo upstream; no real credential ever goes there


def demo_reply(body: dict[str, Any]) -> Reply:
    """The demo's answer to one model call (see the module docstring)."""
    messages = body.get("messages") or []
    called = [i for i, m in enumerate(messages) if m.get("role") == "assistant" and "tool_use" in block_types(m)]
    since = messages[called[-1] + 1 :] if called else []
    typed = [text_of(m) for m in since if m.get("role") == "user" and text_of(m) not in ("", CONTINUE_AFTER_TOOLS)]
    results = tool_results({"messages": since})
    if results and not typed:  # the tools called last came back, and nothing was asked since
        return Reply(text=f"{LABEL} The tool returned: " + " | ".join(results))
    prompt = last_user_text(body)
    if prompt.startswith("[Image: source:"):  # the CLI's note on an image it saved, not the user's words
        prompt = "(an image)"
    tool = asked_tool(body.get("tools") or [], prompt)
    if tool is not None:
        return Reply(tool_uses=[{"name": tool["name"], "input": placeholder_input(tool.get("input_schema") or {})}])
    return Reply(text=f"{LABEL} You said: {prompt}", chunk_size=8)


def block_types(message: dict[str, Any]) -> set[str]:
    content = message.get("content")
    return {str(b.get("type")) for b in content if isinstance(b, dict)} if isinstance(content, list) else set()


def asked_tool(tools: list[dict[str, Any]], prompt: str) -> dict[str, Any] | None:
    """The first offered tool whose name (or an MCP tool's short name) the prompt names as a word."""
    words = set(re.findall(r"[A-Za-z0-9_\-]+", prompt))
    for tool in tools:
        name = str(tool.get("name", ""))
        if name and (name in words or name.rsplit("__", 1)[-1] in words):
            return tool
    return None


PLACEHOLDERS: dict[str, Any] = {"string": "demo", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}


def placeholder_input(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that fill a JSON schema's required properties: an enum's first value, else one per type."""
    properties = schema.get("properties") or {}
    found: dict[str, Any] = {}
    for name in schema.get("required") or []:
        spec = properties.get(name) or {}
        kind = str(spec.get("type"))
        found[name] = spec["enum"][0] if spec.get("enum") else PLACEHOLDERS.get(kind, "demo")
    return found


async def messages(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse(
            {"type": "error", "error": {"type": "invalid_request_error", "message": "The body must be a JSON object."}},
            status_code=400,
        )
    reply = demo_reply(body)
    if not body.get("stream"):
        return JSONResponse(message_json(body, reply))
    return StreamingResponse(sse(body, reply), media_type="text/event-stream")


async def count_tokens(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = {}
    counted = {name: body.get(name) for name in ("messages", "system", "tools")} if isinstance(body, dict) else {}
    return JSONResponse({"input_tokens": max(1, len(json.dumps(counted)) // 4)})


def demo_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        ]
    )


def offline_env(url: str, api_key: str, config_dir: str) -> dict[str, str]:
    """The environment under which the real CLI talks only to the Anthropic API at `url`
    (SDK_NOTES "Running the real CLI offline"), with its own config folder."""
    return {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CONFIG_DIR": config_dir,
    }


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_thread(
    app: Any, host: str, port: int, name: str, lifespan: Literal["auto", "on", "off"] = "off"
) -> tuple[uvicorn.Server, threading.Thread]:
    """A uvicorn server for `app` on a daemon thread, once it listens (the demo's and the tests' fakes)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    return server, thread


class DemoUpstream:
    """The demo upstream on 127.0.0.1: its port is chosen now, it serves from start() to stop()."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._server, self._thread = serve_in_thread(demo_app(), self.host, self.port, "demo upstream")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
