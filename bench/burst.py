"""Traffic without pauses: new conversations back to back, clients arriving together, and the idle
gateway after such a burst (issue 11). Each gateway figure has its floor measured in the same run:
direct pre-connected ClaudeSDKClients (their connect not timed).

- back to back: 8 new conversations in a row, each sent as soon as the one before has answered,
  twice: the first burst after a quiet start (the base spares only), then the same burst again
  (spares sized to the bursts of the last two minutes);
- together: 8 clients start at once, each a 3-turn stateless conversation;
- idle after the burst: CLI processes, RSS and CPU of the gateway's process tree 70 s later.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from pathlib import Path

from openai import OpenAI

from tests.support import GatewayServer, descendants

SYSTEM = "bench burst"
TICKS = os.sysconf("SC_CLK_TCK")


def first_token(client: OpenAI, messages: list[dict]) -> tuple[float, float, str]:
    """Seconds to the first content token and to the end, and the answer."""
    start = time.perf_counter()
    first, text = None, []
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - start
            text.append(chunk.choices[0].delta.content)
    return first or float("nan"), time.perf_counter() - start, "".join(text)


def back_to_back(client: OpenAI, n: int, tag: str) -> list[float]:
    """TTFT of `n` new conversations sent one right after the other."""
    return [
        first_token(client, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{tag} {i}"}])[0]
        for i in range(n)
    ]


def together(client_of, clients: int, turns: int, tag: str) -> tuple[float, list[float]]:
    """Wall time, and every turn's latency, of `clients` stateless conversations started at once."""
    latencies: list[float] = []
    barrier = threading.Barrier(clients)

    def conversation(n: int) -> None:
        client = client_of()
        messages = [{"role": "system", "content": SYSTEM}]
        barrier.wait()
        for t in range(turns):
            messages.append({"role": "user", "content": f"{tag} {n} turn {t}"})
            _, took, answer = first_token(client, messages)
            latencies.append(took)
            messages.append({"role": "assistant", "content": answer})

    threads = [threading.Thread(target=conversation, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


async def direct_back_to_back(options_of, n: int) -> list[float]:
    """The floor: a first turn on each of `n` clients connected ahead (connect not timed)."""
    from claude_agent_sdk import ClaudeSDKClient

    from bench.bench import direct_first_token

    clients = [ClaudeSDKClient(options_of()) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in clients))
    try:
        return [await direct_first_token(c, f"direct {i}") for i, c in enumerate(clients)]
    finally:
        for c in clients:
            await c.disconnect()


async def direct_together(options_of, clients: int, turns: int) -> tuple[float, list[float]]:
    """The floor: `clients` connected ahead, each running `turns` turns, all at once."""
    from claude_agent_sdk import ClaudeSDKClient, ResultMessage

    connected = [ClaudeSDKClient(options_of()) for _ in range(clients)]
    await asyncio.gather(*(c.connect() for c in connected))
    latencies: list[float] = []

    async def conversation(n: int, client: ClaudeSDKClient) -> None:
        for t in range(turns):
            start = time.perf_counter()
            await client.query(f"direct {n} turn {t}")
            async for message in client.receive_response():
                if isinstance(message, ResultMessage):
                    latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    try:
        await asyncio.gather(*(conversation(n, c) for n, c in enumerate(connected)))
        return time.perf_counter() - start, latencies
    finally:
        for c in connected:
            await c.disconnect()


def tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def idle_after(server: GatewayServer, rss_mib, wait: float = 70.0, window: float = 10.0) -> dict:
    """The gateway's process tree `wait` seconds after a burst: processes, RSS, CPU over `window`."""
    time.sleep(wait - window)
    before = tree_cpu_seconds(server.process.pid)
    time.sleep(window)
    cpu = (tree_cpu_seconds(server.process.pid) - before) / window
    return {"clis": len(server.clis()), "rss": rss_mib(server.process.pid), "cpu": cpu}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def burst_rows(env: dict[str, str], tmp: Path, key: str, rss_mib, direct_options) -> list[tuple[str, str]]:
    """The burst scenarios on a gateway with default settings (their floors alongside)."""
    server = GatewayServer({**env, "GATEWAY_API_KEYS": key}, tmp).start()
    try:
        url = f"{server.url}/v1"

        def client_of() -> OpenAI:
            return OpenAI(base_url=url, api_key=key, max_retries=0, timeout=120)

        client = client_of()
        first_token(client, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "warm-up"}])
        time.sleep(5)  # the first burst after a quiet start finds the base spares only
        gateway_first = back_to_back(client, 8, "first")
        time.sleep(5)  # a burst like one seen in the last two minutes finds them all warm
        gateway_b2b = back_to_back(client, 8, "again")
        floor_b2b = asyncio.run(direct_back_to_back(lambda: direct_options(env), 8))
        time.sleep(5)
        wall, latencies = together(client_of, 8, 3, "together")
        floor_wall, floor_latencies = asyncio.run(direct_together(lambda: direct_options(env), 8, 3))
        idle = idle_after(server, rss_mib)
    finally:
        server.stop()
    return [
        ("8 new conversations back to back, first burst: TTFT p50, gateway", f"{median(gateway_first) * 1000:.0f} ms"),
        ("8 new conversations back to back, next burst: TTFT p50, gateway", f"{median(gateway_b2b) * 1000:.0f} ms"),
        ("8 new conversations back to back: floor (pre-connected)", f"{median(floor_b2b) * 1000:.0f} ms"),
        (
            "  ratio first / next burst to floor (target <= 1.2)",
            f"{median(gateway_first) / median(floor_b2b):.2f} / {median(gateway_b2b) / median(floor_b2b):.2f}",
        ),
        ("8 clients x 3 turns together: wall / p95, gateway", f"{wall:.2f} s / {pct(latencies, 0.95) * 1000:.0f} ms"),
        (
            "8 clients x 3 turns together: wall / p95, floor",
            f"{floor_wall:.2f} s / {pct(floor_latencies, 0.95) * 1000:.0f} ms",
        ),
        ("  ratio wall (target <= 1.4); p95 target <= 1 s", f"{wall / floor_wall:.2f}"),
        (
            "idle 70 s after the burst: CLI processes / RSS / CPU",
            f"{idle['clis']} / {idle['rss']:.0f} MiB / {idle['cpu'] * 100:.1f}% of a core",
        ),
    ]
