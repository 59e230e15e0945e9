"""Claude Gateway benchmark: the real bundled Claude Code CLI against the fake Anthropic API on
loopback, driven with the `openai` client. Prints one table; docs/testing.md quotes it.

    python -m bench.bench [--rounds 10]

What it measures, side by side:
- new-conversation time to first token: the gateway with warm spares; the gateway with one cold
  process per request (GATEWAY_WARM_PROCESSES=false); and the floor, a direct pre-connected
  ClaudeSDKClient (its connect not timed);
- follow-up time to first token: stateless (full history resent), with session_id, cold, and the
  floor, a later turn on a connected direct client;
  each round measures every variant in turn, so that the noise of a small machine hits all alike;
- 8 concurrent clients each running a 3-turn stateless conversation: wall time, p50 and p95;
- RSS of the gateway and all its children during that load, and after idle expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from openai import OpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import burst_rows  # noqa: E402
from bench.steps import direct_steps, gateway_steps  # noqa: E402
from bench.stream import stream_rows  # noqa: E402
from tests.fakes.upstream import FakeAnthropic  # noqa: E402
from tests.support import GatewayServer, descendants, free_port, wait_until  # noqa: E402

KEY = "bench-key"
IDLE = 10  # seconds: session TTL and process idle timeout (longer than a round of quiet pauses)
QUIET = 1.5  # seconds of quiet before each timed turn


def rss_mib(pid: int) -> float:
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def ttft(client: OpenAI, messages: list[dict], **extra) -> tuple[float, str]:
    """Seconds to the first content token, and the whole answer."""
    start = time.perf_counter()
    first, text = None, []
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, stream=True, **extra):
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - start
            text.append(chunk.choices[0].delta.content)
    return first or float("nan"), "".join(text)


def end_sessions(client: OpenAI) -> None:
    """End every conversation of the benchmark's key: idle Claude processes cost ~1% of a core each."""
    url, headers = str(client.base_url).rstrip("/"), {"x-api-key": KEY}
    for session in httpx.get(f"{url}/sessions", headers=headers).json()["data"]:
        httpx.delete(f"{url}/sessions/{session['id']}", headers=headers)


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# --- time to first token -------------------------------------------------------------------
def direct_options(env: dict[str, str]):
    from claude_agent_sdk import ClaudeAgentOptions

    return ClaudeAgentOptions(
        tools=[],
        setting_sources=[],
        system_prompt="bench",
        model="sonnet",
        include_partial_messages=True,
        cwd=tempfile.mkdtemp(),
        env=env,
    )


async def direct_first_token(client, text: str) -> float:
    from claude_agent_sdk import StreamEvent

    start = time.perf_counter()
    await client.query(text)
    first = None
    async for message in client.receive_response():
        if first is None and isinstance(message, StreamEvent) and message.event.get("type") == "content_block_delta":
            first = time.perf_counter() - start
    return first or float("nan")


async def new_conversations(env: dict[str, str], warm: OpenAI, cold: OpenAI, rounds: int) -> dict[str, list[float]]:
    """Per round: a first turn on a freshly pre-connected direct client (its connect not timed), a
    new conversation on the gateway with warm spares, and one on the cold gateway."""
    from claude_agent_sdk import ClaudeSDKClient

    times: dict[str, list[float]] = {"direct": [], "warm": [], "cold": []}
    for i in range(rounds):
        async with ClaudeSDKClient(direct_options(env)) as client:
            times["direct"].append(await direct_first_token(client, f"direct {i}"))
        for name, gateway in (("warm", warm), ("cold", cold)):
            await asyncio.sleep(QUIET)  # a replacement spare starts once the gateway is quiet, ~0.5 s
            first, _ = await asyncio.to_thread(
                ttft, gateway, [{"role": "system", "content": "bench"}, {"role": "user", "content": f"new {name} {i}"}]
            )
            times[name].append(first)
        end_sessions(warm)
    return times


async def follow_ups(env: dict[str, str], warm: OpenAI, cold: OpenAI, rounds: int) -> dict[str, list[float]]:
    """Per round, interleaved so that machine noise hits all alike: the second turn of a new direct
    client (the floor: like the gateway's follow-up, its process has served one turn before, and a
    CLI's first turns run slower than later ones), a later turn on a long-connected direct client,
    and a follow-up on the gateway stateless, with session_id, and cold."""
    from claude_agent_sdk import ClaudeSDKClient

    times: dict[str, list[float]] = {"direct": [], "direct_later": [], "stateless": [], "session": [], "cold": []}
    async with ClaudeSDKClient(direct_options(env)) as client:
        await direct_first_token(client, "hello")
        for i in range(rounds):
            history = [{"role": "system", "content": "bench"}, {"role": "user", "content": f"conversation {i}"}]
            session = {"extra_body": {"session_id": f"bench-{i}"}}
            _, answer = await asyncio.to_thread(ttft, warm, history)
            await asyncio.to_thread(ttft, warm, history, **session)
            _, cold_answer = await asyncio.to_thread(ttft, cold, history)
            fresh = ClaudeSDKClient(direct_options(env))
            await fresh.connect()
            await direct_first_token(fresh, f"conversation {i}")
            follow = {"role": "user", "content": "and then?"}
            # Each measurement starts on a quiet machine: replacement spares have started, and
            # the previous turn's CLI has finished its own after-turn work.
            await asyncio.sleep(QUIET)
            times["direct"].append(await direct_first_token(fresh, f"and then {i}?"))
            await fresh.disconnect()
            await asyncio.sleep(QUIET)
            times["direct_later"].append(await direct_first_token(client, f"and later {i}?"))
            await asyncio.sleep(QUIET)
            times["stateless"].append(
                (await asyncio.to_thread(ttft, warm, [*history, {"role": "assistant", "content": answer}, follow]))[0]
            )
            await asyncio.sleep(QUIET)
            times["session"].append((await asyncio.to_thread(ttft, warm, [follow], **session))[0])
            await asyncio.sleep(QUIET)
            times["cold"].append(
                (
                    await asyncio.to_thread(
                        ttft, cold, [*history, {"role": "assistant", "content": cold_answer}, follow]
                    )
                )[0]
            )
            end_sessions(warm)
    return times


def concurrent_load(url: str, server: GatewayServer, clients: int = 8, turns: int = 3) -> dict:
    latencies: list[float] = []
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(server.process.pid))
            time.sleep(0.05)

    def conversation(n: int) -> None:
        client = OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=120)
        messages = [{"role": "system", "content": "bench"}]
        for t in range(turns):
            messages.append({"role": "user", "content": f"load {n} turn {t} {time.time()}"})
            start = time.perf_counter()
            reply = client.chat.completions.create(model="sonnet", messages=messages)
            latencies.append(time.perf_counter() - start)
            messages.append({"role": "assistant", "content": reply.choices[0].message.content})

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=conversation, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return {"wall": wall, "p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95), "peak_rss": peak[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--only",
        choices=["all", "steps", "burst", "followup", "stream"],
        default="all",
        help="run one scenario only",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.fakes.upstream", "--port", str(upstream_port)], cwd=ROOT)
    fake = FakeAnthropic(port=upstream_port)  # only for its cli_env()
    env = fake.cli_env(str(tmp / "claude-config"))
    wait_until(lambda: is_up(f"{fake.url}/health"), 10)
    common = {
        **env,
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_SESSION_TTL": str(IDLE),
        "GATEWAY_PROCESS_IDLE_TIMEOUT": str(IDLE),
    }
    warm = GatewayServer(common, tmp).start()
    cold = GatewayServer({**common, "GATEWAY_WARM_PROCESSES": "false"}, tmp).start()
    rows: list[tuple[str, str]] = []
    try:
        os.environ.update(env)  # this benchmark process only: the direct SDK client needs the CLI env
        warm_client = OpenAI(base_url=f"{warm.url}/v1", api_key=KEY, max_retries=0, timeout=120)
        cold_client = OpenAI(base_url=f"{cold.url}/v1", api_key=KEY, max_retries=0, timeout=120)
        ttft(warm_client, [{"role": "system", "content": "bench"}, {"role": "user", "content": "warm-up"}])
        if args.only in ("all", "burst"):
            rows += burst_rows(env, tmp, KEY, rss_mib, direct_options)
        if args.only == "burst":
            return
        if args.only in ("all", "followup"):
            rows += follow_up_rows(env, warm_client, cold_client, args.rounds)
        if args.only == "followup":
            return
        if args.only in ("all", "stream"):
            rows += stream_rows(env, warm_client, args.rounds, warm.process.pid)
        if args.only == "stream":
            return
        rows += step_rows(env, warm_client, args.rounds)
        if args.only == "steps":
            return
        new = asyncio.run(new_conversations(env, warm_client, cold_client, args.rounds))
        new_warm, new_cold, floor_first = new["warm"], new["cold"], new["direct"]
        idle_rss = rss_mib(warm.process.pid)
        load_warm = concurrent_load(f"{warm.url}/v1", warm)
        load_cold = concurrent_load(f"{cold.url}/v1", cold)
        expired = wait_until(lambda: warm.children() == [], timeout=IDLE * 4 + 30)
        after_rss = rss_mib(warm.process.pid)

        rows += [
            ("new conversation, time to first token: gateway, warm spares", median_ms(new_warm)),
            ("new conversation: gateway, one cold process per request", median_ms(new_cold)),
            ("new conversation: direct pre-connected ClaudeSDKClient (floor)", median_ms(floor_first)),
            (
                "  ratio warm gateway / floor (target <= 1.5)",
                f"{statistics.median(new_warm) / statistics.median(floor_first):.2f}",
            ),
            (
                "8 clients x 3 turns, warm: wall / p50 / p95",
                f"{load_warm['wall']:.2f} s / {load_warm['p50'] * 1000:.0f} ms / {load_warm['p95'] * 1000:.0f} ms",
            ),
            (
                "8 clients x 3 turns, cold: wall / p50 / p95",
                f"{load_cold['wall']:.2f} s / {load_cold['p50'] * 1000:.0f} ms / {load_cold['p95'] * 1000:.0f} ms",
            ),
            ("  p50 speed-up warm vs cold (target >= 3)", f"{load_cold['p50'] / load_warm['p50']:.1f}x"),
            (
                "RSS gateway + children: idle before load / peak under load (warm)",
                f"{idle_rss:.0f} MiB / {load_warm['peak_rss']:.0f} MiB",
            ),
            (
                "RSS after idle expiry (warm); CLI processes left",
                f"{after_rss:.0f} MiB; {len(warm.children())}{'' if expired else ' (did not expire!)'}",
            ),
        ]
    finally:
        warm.stop()
        cold.stop()
        upstream.terminate()
        width = max((len(name) for name, _ in rows), default=0)
        print(f"\nClaude Gateway benchmark ({args.rounds} rounds, medians; {os.cpu_count()} cores)\n")
        for name, value in rows:
            print(f"{name.ljust(width)}  {value}")


def follow_up_rows(env: dict[str, str], warm: OpenAI, cold: OpenAI, rounds: int) -> list[tuple[str, str]]:
    """A follow-up's time to first token: stateless, with session_id, cold, and the floor."""
    follow = asyncio.run(follow_ups(env, warm, cold, rounds))
    floor = statistics.median(follow["direct"])
    return [
        ("follow-up, time to first token: stateless (history resent)", median_ms(follow["stateless"])),
        ("follow-up: with session_id", median_ms(follow["session"])),
        ("follow-up: one cold process per request", median_ms(follow["cold"])),
        ("follow-up: second turn of a new direct client (floor)", median_ms(follow["direct"])),
        ("  (a later turn on a long-connected direct client)", median_ms(follow["direct_later"])),
        ("  ratio stateless / floor (target <= 1.1)", f"{statistics.median(follow['stateless']) / floor:.2f}"),
        ("  ratio session / floor (target <= 1.1)", f"{statistics.median(follow['session']) / floor:.2f}"),
    ]


def step_rows(env: dict[str, str], client: OpenAI, steps: int) -> list[tuple[str, str]]:
    """An agent loop's step: the function's result sent to the next call's first delta."""
    gateway = gateway_steps(client, steps)
    direct = asyncio.run(direct_steps(env, steps))
    return [
        ("agent loop step, result sent to next call's first delta: gateway", median_ms(gateway)),
        ("agent loop step: direct ClaudeSDKClient holding the turn (floor)", median_ms(direct)),
        ("  ratio gateway / floor (target <= 1.3)", f"{statistics.median(gateway) / statistics.median(direct):.2f}"),
    ]


def is_up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
