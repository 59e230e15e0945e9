"""What agent mode's sandbox costs: one agent turn that runs one Bash command, through the gateway
with the sandbox (bubblewrap around the CLI, Claude Code's own around the command) and without it
(GATEWAY_AGENT_SANDBOX=false), on the real bundled CLI against the fake upstream.

    python -m bench.agent [--rounds 8]

Per round, for each gateway: a new session's first turn (a new CLI process in its sandbox) and a
follow-up in that session (the warm process; the command's own sandbox only). Medians of wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.upstream import FakeAnthropic  # noqa: E402
from tests.support import GatewayServer  # noqa: E402

KEY = "bench-key"
STEP = "TOOL:Bash " + json.dumps({"command": "echo hi", "description": "bench"})


def turn(url: str, session: str) -> float:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": STEP}], "claude_code": {}}
    headers = {"Authorization": f"Bearer {KEY}", "X-Session-Id": session}
    start = time.perf_counter()
    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    fake = FakeAnthropic().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    servers = {}
    for name, sandbox in (("sandboxed", "true"), ("no sandbox", "false")):
        env = {**fake.cli_env(str(tmp / "config")), "GATEWAY_API_KEYS": KEY, "GATEWAY_AGENT_MODE": "true"}
        env["GATEWAY_AGENT_SANDBOX"] = sandbox
        folder = tmp / name.replace(" ", "-")
        folder.mkdir()
        servers[name] = GatewayServer(env, folder).start()
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for name, server in servers.items():
                session = uuid.uuid4().hex
                times.setdefault((name, "first turn"), []).append(turn(server.url, session))
                time.sleep(0.5)
                times.setdefault((name, "follow-up"), []).append(turn(server.url, session))
                time.sleep(0.5)
    finally:
        for server in servers.values():
            server.stop()
        fake.stop()
    print("| agent turn with one Bash command | sandboxed | no sandbox |")
    print("| --- | --- | --- |")
    for kind in ("first turn", "follow-up"):
        row = [f"{statistics.median(times[(name, kind)]) * 1000:.0f} ms" for name in servers]
        print(f"| {kind} (median of {args.rounds}) | {' | '.join(row)} |")


if __name__ == "__main__":
    main()
