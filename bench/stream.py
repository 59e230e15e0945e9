"""A long streamed answer, first token to last: the gateway (HTTP, SSE, the `openai` client)
against a direct pre-connected ClaudeSDKClient reading the same answer (the floor).

The standalone fake upstream echoes the last user text at 4 characters a delta, so an
8,000-character question makes an answer of about 2,000 deltas. Both sides run one conversation
each (the gateway's through a session_id, so that no spare is taken and none starts mid-stream),
warmed up first, and alternate round by round so that machine noise hits both alike. The stream
read as plain SSE lines, and the openai client's own parsing of that recorded body with no network,
tell the client's share of the gap from the gateway's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import httpx
from openai import OpenAI

DELTAS = 2000
PIECE = 4  # characters per delta in the fake upstream
QUIET = 1.5  # seconds before each timed stream: the CLIs' after-turn work is done
SESSION = "bench-stream"


def question(round_: int) -> str:
    """About DELTAS * PIECE characters, different every round."""
    head = f"stream round {round_} "
    return head + "x" * (DELTAS * PIECE - len(head) - len("echo: "))


def gateway_stream(client: OpenAI, text: str) -> tuple[float, int]:
    """Seconds from the first content delta to the last, and how many there were (openai client)."""
    first = last = 0.0
    count = 0
    stream = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "system", "content": "bench"}, {"role": "user", "content": text}],
        stream=True,
        extra_body={"session_id": SESSION},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            count += 1
    return last - first, count


def gateway_stream_raw(client: OpenAI, text: str, body_out: list[bytes] | None = None) -> tuple[float, int]:
    """The same through plain httpx lines, without the openai client's parsing of each chunk
    (the bytes read go to `body_out`, if given)."""
    body = {
        "model": "sonnet",
        "messages": [{"role": "system", "content": "bench"}, {"role": "user", "content": text}],
        "stream": True,
        "session_id": SESSION,
    }
    url = f"{str(client.base_url).rstrip('/')}/chat/completions"
    first = last = 0.0
    count = 0
    with httpx.stream("POST", url, json=body, headers={"Authorization": f"Bearer {client.api_key}"}, timeout=120) as r:
        for line in r.iter_lines():
            if body_out is not None:
                body_out.append(f"{line}\n".encode())
            if '"delta":{"content":"' in line and '"content":""' not in line:
                last = time.perf_counter()
                first = first or last
                count += 1
    return last - first, count


def client_parsing(body: bytes) -> float:
    """Seconds the openai client spends on a recorded stream's body alone, with no network: its own
    cost per chunk, which the floor (a direct SDK reader) does not pay."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = OpenAI(
        base_url="http://recorded/v1", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    start = time.perf_counter()
    for _ in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True):
        pass
    return time.perf_counter() - start


async def direct_stream(client, text: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from claude_agent_sdk import StreamEvent

    first = last = 0.0
    count = 0
    await client.query(text)
    async for message in client.receive_response():
        if isinstance(message, StreamEvent) and message.event.get("type") == "content_block_delta":
            if message.event["delta"].get("text"):
                last = time.perf_counter()
                first = first or last
                count += 1
    return last - first, count


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(env: dict[str, str], client: OpenAI, rounds: int, pid: int | None) -> dict[str, list[float]]:
    from claude_agent_sdk import ClaudeSDKClient

    from bench.bench import direct_options

    times: dict[str, list[float]] = {
        "gateway": [],
        "raw": [],
        "direct": [],
        "cpu": [],
        "deltas": [],
        "parse": [],
        "direct_cpu": [],
    }
    async with ClaudeSDKClient(direct_options(env)) as direct:
        await direct_stream(direct, "warm-up")
        await asyncio.to_thread(gateway_stream, client, "warm-up")
        for i in range(rounds):
            await asyncio.sleep(QUIET)
            before = time.process_time()
            seconds, count = await direct_stream(direct, question(i))
            times["direct"].append(seconds)
            times["direct_cpu"].append((time.process_time() - before) / max(count, 1))
            await asyncio.sleep(QUIET)
            before = cpu_seconds(pid) if pid else 0.0
            seconds, count = await asyncio.to_thread(gateway_stream, client, question(i))
            if pid:
                times["cpu"].append(cpu_seconds(pid) - before)
            times["gateway"].append(seconds)
            times["deltas"].append(count)
            await asyncio.sleep(QUIET)
            body: list[bytes] = []
            times["raw"].append((await asyncio.to_thread(gateway_stream_raw, client, question(i), body))[0])
            times["parse"].append(client_parsing(b"".join(body)))
    return times


def stream_rows(env: dict[str, str], client: OpenAI, rounds: int = 10, pid: int | None = None) -> list[tuple[str, str]]:
    """Rows for bench.bench's table; `pid` (the gateway's) adds its CPU per delta."""
    times = asyncio.run(measure(env, client, rounds, pid))
    gateway, raw, direct, parse = (statistics.median(times[k]) for k in ("gateway", "raw", "direct", "parse"))
    deltas = statistics.median(times["deltas"])
    rows = [
        (f"a {deltas:.0f}-delta stream, first to last token: gateway, openai client", f"{gateway * 1000:.0f} ms"),
        ("  the same read as plain SSE lines (httpx, no chunk parsing)", f"{raw * 1000:.0f} ms"),
        ("  direct pre-connected ClaudeSDKClient (floor)", f"{direct * 1000:.0f} ms"),
        ("  ratio gateway / floor (target <= 1.2)", f"{gateway / direct:.2f}"),
        ("  ratio plain SSE lines / floor", f"{raw / direct:.2f}"),
        ("  the openai client's own parsing of those chunks, no network", f"{parse * 1000:.0f} ms"),
    ]
    if times["cpu"]:
        per_delta = sum(times["cpu"]) / sum(times["deltas"]) * 1e6
        rows.append(("  gateway process CPU per delta (whole request)", f"{per_delta:.0f} us"))
        direct_cpu = statistics.median(times["direct_cpu"]) * 1e6
        rows.append(("  direct client's process CPU per delta (the SDK's own reading)", f"{direct_cpu:.0f} us"))
    return rows
