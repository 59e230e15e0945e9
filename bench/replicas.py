"""What a conversation that moves between replicas costs: two gateways sharing one Redis (issue 14),
the real bundled Claude Code CLI against the fake Anthropic API on loopback, driven with the
`openai` client. Prints one table.

    python -m bench.replicas [--rounds 10]

Per round, two fresh named sessions (`session_id` in the body), each started on replica A; then,
after a quiet pause, a follow-up's time to first token (streamed chat completion):
- on the SAME replica (A): its Claude process for the session is still warm;
- on the OTHER replica (B): B has no process for it, so it starts one on a transcript it writes
  from the session's history in Redis (real turns; Claude Code's own files stay on A's disk).
Rounds interleave the two, so that the noise of a small machine hits both alike.

The fake upstream answers with every user text of the conversation it was sent, so each reply
shows whether the model saw the first turn: the table counts the follow-ups that recalled it.
Should B not find the session in Redis, it would start a new one of that name: its follow-ups
would recall nothing, and the table says so.

Each replica has its own data folder and its own CLAUDE_CONFIG_DIR, as separate machines would.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from openai import OpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench import is_up, median_ms, ttft  # noqa: E402
from tests.fakes.upstream import FakeAnthropic, Reply  # noqa: E402
from tests.real_redis import RedisServer  # noqa: E402
from tests.support import GatewayServer, conversation, free_port, texts, wait_until  # noqa: E402

KEY = "bench-key"
QUIET = 1.5  # seconds of quiet before each timed turn: replacement spares start, the CLI settles
RECALL = "recall: "


def recall(body: dict) -> Reply:
    """Every user text of the conversation, in order: what the model was shown."""
    said = [text for role, text in texts(conversation(body)) if role == "user"]
    return Reply(text=RECALL + " | ".join(said))


def serve_upstream(port: int) -> None:
    """The fake Anthropic API answering with `recall`, in this process (the benchmark's child)."""
    import uvicorn

    fake = FakeAnthropic(port=port)
    fake.default = recall
    uvicorn.Server(uvicorn.Config(fake.app(), host=fake.host, port=fake.port, log_level="warning")).run()


def follow_up(start: OpenAI, then: OpenAI, i: int) -> tuple[float, bool]:
    """A new session's first turn on `start`, then a follow-up on `then`: its TTFT, and whether the
    reply shows that the model saw the first turn."""
    session = {"extra_body": {"session_id": f"replicas-{uuid.uuid4().hex[:12]}"}}
    word = f"word-{i}-{uuid.uuid4().hex[:6]}"
    ttft(start, [{"role": "system", "content": "bench"}, {"role": "user", "content": f"remember {word}"}], **session)
    time.sleep(QUIET)
    first, answer = ttft(then, [{"role": "user", "content": "what was the word?"}], **session)
    return first, answer.startswith(RECALL) and word in answer


def end_sessions(urls: list[str]) -> None:
    """End every session of the benchmark's key on every replica (idle CLIs cost ~1% of a core)."""
    headers = {"x-api-key": KEY}
    for url in urls:
        for session in httpx.get(f"{url}/v1/sessions", headers=headers, timeout=30).json()["data"]:
            for other in urls:  # shared: gone everywhere; not shared yet: each replica has its own
                httpx.delete(f"{other}/v1/sessions/{session['id']}", headers=headers, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)  # internal: serve the fake on this port
    args = parser.parse_args()
    if args.upstream:
        serve_upstream(args.upstream)
        return

    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-replicas-"))
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.replicas", "--upstream", str(port)], cwd=ROOT)
    redis: RedisServer | None = None
    servers: list[GatewayServer] = []
    times: dict[str, list[float]] = {"same": [], "other": []}
    recalled: dict[str, int] = {"same": 0, "other": 0}
    try:
        fake = FakeAnthropic(port=port)  # only for its url and cli_env()
        if not wait_until(lambda: is_up(f"{fake.url}/health"), 60):  # it imports what this module does
            raise RuntimeError("the fake upstream did not start")
        redis = RedisServer(tmp / "redis").start()
        for name in ("a", "b"):
            folder = tmp / name
            folder.mkdir()
            env = {
                **fake.cli_env(str(folder / "claude-config")),
                "GATEWAY_API_KEYS": KEY,
                "GATEWAY_REDIS_URL": redis.url,
            }
            servers.append(GatewayServer(env, folder).start())
        a, b = (OpenAI(base_url=f"{s.url}/v1", api_key=KEY, max_retries=0, timeout=120) for s in servers)
        for client in (a, b):
            ttft(client, [{"role": "system", "content": "bench"}, {"role": "user", "content": "warm-up"}])
        for i in range(args.rounds):
            for kind, then in (("same", a), ("other", b)):
                time.sleep(QUIET)
                first, ok = follow_up(a, then, i)
                times[kind].append(first)
                recalled[kind] += ok
            end_sessions([s.url for s in servers])
    finally:
        for server in servers:
            server.stop()
        if redis is not None:
            redis.stop()
        upstream.terminate()
        upstream.wait(timeout=20)
    print_table(args.rounds, times, recalled)


def print_table(rounds: int, times: dict[str, list[float]], recalled: dict[str, int]) -> None:
    rows = [
        ("follow-up, time to first token: same replica (A -> A)", median_ms(times["same"])),
        ("follow-up: other replica (started on A, follow-up on B)", median_ms(times["other"])),
        ("  ratio other / same", f"{statistics.median(times['other']) / statistics.median(times['same']):.2f}"),
        (
            "follow-ups that recalled the first turn: same / other",
            f"{recalled['same']}/{rounds} / {recalled['other']}/{rounds}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nClaude Gateway replicas ({rounds} rounds, medians; two gateways, one Redis)\n")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    if recalled["other"] < rounds:
        print(
            "\nThe other replica did not continue every conversation: B started a new session under the same"
            " name (sessions not shared through Redis?). Its figure is then a new session's."
        )


if __name__ == "__main__":
    main()
