"""The gateway's own CPU per streamed delta, without Claude: what one text delta costs us between
the SDK handing over its message and the bytes going to the HTTP server.

    python -m bench.framing [--deltas 2000] [--runs 15] [--profile chat]

Rows, in microseconds of CPU per delta (process time; each request's fixed cost taken out by
measuring a 1-delta request too):
- frames: the door's stream writer alone (ChunkStream, EventStream, ResponseBuilder);
- gateway: the whole in-process path, one request through the real app as ASGI: the real engine's
  turn (ClaudeProcess.turn, TurnMessages, turn_events, TurnReader, the router's layers) on a
  stand-in SDK client that hands over ready-made messages, then the session service, the door's
  fan-out, respond's SSE generator and Starlette's StreamingResponse, down to the ASGI `send`;
- floor: the same stand-in SDK client read directly (what a direct ClaudeSDKClient user pays).
gateway - floor is the gateway's own cost per delta. The HTTP server's own write (uvicorn, h11)
is not in it: `python -m bench.bench --only stream` measures the whole thing over loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, StreamEvent, TextBlock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.events import Finish, TextDelta  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.dialects.anthropic_messages.outbound import EventStream  # noqa: E402
from app.dialects.openai_chat.outbound import ChunkStream  # noqa: E402
from app.dialects.openai_responses.outbound import ResponseBuilder  # noqa: E402
from app.dialects.openai_responses.wire import ResponsesRequest  # noqa: E402
from app.engine.claude import ClaudeEngine  # noqa: E402
from app.engine.processes.process import ClaudeProcess  # noqa: E402
from app.http.app import create_app  # noqa: E402

PIECE = "abcd"  # what the fake upstream streams: 4 characters a delta
ASK = [{"role": "user", "content": "x"}]
DOORS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "sonnet", "stream": True, "messages": ASK}),
    "messages": ("/v1/messages", {"model": "sonnet", "stream": True, "max_tokens": 64000, "messages": ASK}),
    "responses": ("/v1/responses", {"model": "sonnet", "stream": True, "input": "x"}),
}


# --- the SDK's side, stood in for -----------------------------------------------------------
def sdk_messages(deltas: int) -> list[Any]:
    """One streamed answer as the SDK hands it over: stream events, the assistant message, the result."""

    def event(payload: dict[str, Any]) -> StreamEvent:
        return StreamEvent(uuid="u", session_id="s", event=payload)

    usage = {"input_tokens": 11, "output_tokens": 1}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet", "usage": usage}
    return [
        event({"type": "message_start", "message": message}),
        event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        *[
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": PIECE}})
            for _ in range(deltas)
        ],
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": deltas}}),
        event({"type": "message_stop"}),
        AssistantMessage([TextBlock(PIECE * deltas)], "claude-sonnet", message_id="msg_1"),
        ResultMessage("success", 1, 1, False, 1, "s", stop_reason="end_turn", usage=usage, result=PIECE * deltas),
    ]


class StandInClient:
    """What ClaudeProcess uses of a ClaudeSDKClient, answering with ready-made messages."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    async def query(self, prompt: Any) -> None:
        async for _ in prompt:
            pass

    async def receive_response(self) -> AsyncIterator[Any]:
        for message in self.messages:
            await asyncio.sleep(0)  # as the SDK's own (anyio) stream does for every message
            yield message


def stand_in_process(messages: list[Any]) -> ClaudeProcess:
    process = ClaudeProcess(ClaudeAgentOptions())
    process.state = "connected"
    process._client = StandInClient(messages)  # type: ignore[assignment]
    return process


# --- measuring ------------------------------------------------------------------------------
def cpu_per_delta(run: Callable[[int], float], deltas: int, runs: int) -> float:
    """Microseconds of CPU per delta: the median of `runs` requests of `deltas` deltas, less the
    median of as many 1-delta requests (the request's own fixed cost)."""
    run(deltas)  # warm-up: imports, caches
    many = statistics.median(run(deltas) for _ in range(runs))
    one = statistics.median(run(1) for _ in range(runs))
    return (many - one) / (deltas - 1) * 1e6


def frames_run(door: str) -> Callable[[int], float]:
    """The door's stream writer alone, fed TextDeltas."""

    def run(deltas: int) -> float:
        start = time.process_time()
        if door == "chat":
            chunks = ChunkStream("chatcmpl-1", 1, "sonnet", False)
            chunks.opening()
            for _ in range(deltas):
                chunks.frames((0, TextDelta(PIECE)))
            chunks.frames((0, Finish("stop")))
            chunks.closing()
        elif door == "messages":
            stream = EventStream("msg_1", "sonnet")
            stream.opening()
            for _ in range(deltas):
                stream.frames(TextDelta(PIECE))
            stream.frames(Finish("stop"))
        else:
            builder = ResponseBuilder("resp_1", 1, ResponsesRequest.model_validate(DOORS["responses"][1]))
            builder.opening()
            for _ in range(deltas):
                builder.frames(TextDelta(PIECE))
            builder.frames(Finish("stop"))
        return time.process_time() - start

    return run


class InProcessGateway:
    """The real app and engine, with the engine's process lookup answering with a stand-in process."""

    def __init__(self) -> None:
        work = tempfile.mkdtemp(prefix="framing-bench-")
        settings = Settings(_env_file=None, spare_processes=0, work_dir=work, session_ttl=3600)
        self.engine = ClaudeEngine(settings)
        self.engine.work.open(on_dead_sibling=lambda folder: None)
        self.app = create_app(settings, self.engine)
        self.deltas = 0

        async def process_for(conversation: Any, key: Any, turn: Any, attempt: Any) -> tuple[ClaudeProcess, Any]:
            return stand_in_process(sdk_messages(self.deltas)), turn.prompt

        self.engine.router.launch.process_for = process_for  # type: ignore[method-assign]

    async def request(self, door: str, deltas: int) -> tuple[float, bytes]:
        """CPU seconds of one streamed request of `deltas` deltas, and the body it wrote."""
        self.deltas = deltas
        path, body = DOORS[door]
        raw = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = [False]

        async def receive() -> dict[str, Any]:
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.Event().wait()  # the client stays
            return {"type": "http.disconnect"}

        written: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                written.append(message["body"])

        start = time.process_time()
        await self.app(scope, receive, send)
        spent = time.process_time() - start
        return spent, b"".join(written)


def gateway_run(gateway: InProcessGateway, door: str, loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    def run(deltas: int) -> float:
        spent, body = loop.run_until_complete(gateway.request(door, deltas))
        assert body.count(PIECE.encode()) >= deltas, body[-500:]
        return spent

    return run


def floor_run(loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    """The same messages read straight off the stand-in client, as a direct SDK user would."""

    async def read(deltas: int) -> float:
        client = StandInClient(sdk_messages(deltas))
        start = time.process_time()
        async for message in client.receive_response():
            if isinstance(message, StreamEvent) and message.event.get("type") == "content_block_delta":
                message.event["delta"].get("text")
        return time.process_time() - start

    return lambda deltas: loop.run_until_complete(read(deltas))


def rows(deltas: int, runs: int) -> list[tuple[str, str]]:
    loop = asyncio.new_event_loop()
    gateway = InProcessGateway()
    found: list[tuple[str, str]] = []
    floor = cpu_per_delta(floor_run(loop), deltas, runs)
    for door in DOORS:
        found.append((f"{door}: frames alone", f"{cpu_per_delta(frames_run(door), deltas, runs):.1f} us"))
        whole = cpu_per_delta(gateway_run(gateway, door, loop), deltas, runs)
        found.append((f"{door}: gateway in-process, SDK message to ASGI send", f"{whole:.1f} us"))
        found.append((f"{door}:   less the floor (a direct SDK reader, {floor:.1f} us)", f"{whole - floor:.1f} us"))
    loop.close()
    return found


def profile(door: str, deltas: int) -> None:
    loop = asyncio.new_event_loop()
    gateway = InProcessGateway()
    run = gateway_run(gateway, door, loop)
    run(deltas)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        run(deltas)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", choices=list(DOORS), help="cProfile the in-process path of one door instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.deltas)
        return
    found = rows(args.deltas, args.runs)
    width = max(len(name) for name, _ in found)
    print(f"\nCPU per streamed delta ({args.deltas} deltas, median of {args.runs} runs)\n")
    for name, value in found:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
