"""The gateway's Prometheus metrics, in a registry of its own per app (tests make many apps; the
process-wide default registry would mix them).

Label values are bounded, whatever clients send: `door` is one of DOORS, `status` a status class
("2xx"), `model` a name the engine knows (known_models) or "other" ("none": no turn ran), `kind`
a GatewayError code, `tool` a hosted tool (store HOSTED_CALLS). A `key` label (the key's name) is
added only with GATEWAY_METRICS_KEY_LABEL.

Turns are counted where the usage ledger records them (Ledger.observers), once each, however they
ended; requests where the request log sees them end (requests.py); processes and sessions are read
from the engine and the session registry when /metrics is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core.turn import Turn
from ..engine.interface import Engine
from ..store import HOSTED_CALLS, UsageEntry

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..sessions.registry import SessionRegistry
    from ..usage.ledger import Meter

PREFIX = "claude_gateway_"
# The front doors, then the other route families: what a request's `door` label may be.
DOORS = {  # the first prefix that matches names the door
    "/v1/messages/batches": "batches",
    "/v1/batches": "batches",
    "/v1/files": "files",
    "/v1/chat/completions": "chat",
    "/v1/chat/ws": "chat",
    "/v1/messages": "messages",
    "/v1/responses": "responses",
    "/v1/models": "models",
    "/v1/sessions": "sessions",
    "/v1/usage": "usage",
    "/v1/organizations": "reports",
    "/admin": "admin",
    "/console": "console",
    "/health": "health",
    "/metrics": "metrics",
}
# No `_created` series (process-wide): scrapers see counter resets in the values themselves.
disable_created_metrics()  # type: ignore[no-untyped-call]
NO_TURN = "none"  # the model label of a request that ran no turn
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
TURN_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
SPAWN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)
TOKENS = {
    "input_tokens": "Input tokens Claude read uncached",
    "output_tokens": "Output tokens Claude wrote",
    "cache_read_input_tokens": "Input tokens Claude read from the prompt cache",
    "cache_creation_input_tokens": "Input tokens Claude wrote to the prompt cache",
}


def door_of(path: str) -> str:
    """The door (route family) of a request path: a DOORS value, else "other"."""
    for prefix, door in DOORS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return door
    return "other"


def status_class(status: int | None) -> str:
    """ "2xx" for 200; "none" when no answer was sent (the client went away first)."""
    return f"{status // 100}xx" if status else "none"


class Metrics:
    def __init__(self, settings: Settings, engine: Engine, sessions: SessionRegistry) -> None:
        self.engine = engine
        self.key_label = settings.metrics_key_label
        self.registry = CollectorRegistry()
        key = ("key",) if self.key_label else ()
        by_turn = ("door", "model", *key)
        r = self.registry
        self.requests = Counter(
            PREFIX + "requests",
            "HTTP requests answered, by door, status class and model",
            ["door", "status", *by_turn[1:]],
            registry=r,
        )
        self.turns = Counter(
            PREFIX + "turns",
            "Turns that reached Claude, by outcome (ok, error, cancelled)",
            [*by_turn, "outcome"],
            registry=r,
        )
        self.ttft = Histogram(
            PREFIX + "time_to_first_token_seconds",
            "From a turn's start to Claude's first output",
            by_turn,
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            PREFIX + "turn_duration_seconds",
            "From a turn's start to its end, however it ended",
            by_turn,
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.tokens = {name: Counter(PREFIX + name, text, by_turn, registry=r) for name, text in TOKENS.items()}
        self.cost = Counter(PREFIX + "cost_usd", "USD the turns cost, as Claude Code accounts it", by_turn, registry=r)
        self.hosted_calls = Counter(
            PREFIX + "hosted_tool_calls",
            "Hosted tool calls that ran (web_search, web_fetch, mcp), refused ones not counted",
            [*by_turn, "tool"],
            registry=r,
        )
        self.errors = Counter(
            PREFIX + "turn_errors",
            "Turns that failed, by the error's code (upstream errors, gateway_busy, ...)",
            ["door", "kind", *key],
            registry=r,
        )
        self.spawn = Histogram(
            PREFIX + "process_spawn_seconds",
            "From starting a Claude Code process to its being ready",
            buckets=SPAWN_BUCKETS,
            registry=r,
        )
        pool = getattr(engine, "pool", None)  # the real engine's process pool (none in scripted engines)
        if pool is not None:
            pool.on_spawned = self.spawn.observe
        r.register(EngineCollector(engine, sessions))

    def model_label(self, model: str | None) -> str:
        """The model a turn ran (its --model, None: the default) if the engine knows the name, else "other"."""
        name = model or "default"
        try:
            return name if name in self.engine.known_models() or name == "default" else "other"
        except Exception:
            return "other"

    def turn_ended(self, entry: UsageEntry, turn: Turn, meter: Meter, key_name: str) -> None:
        """One turn as the ledger recorded it (Ledger.observers)."""
        labels = {"door": door_of_turn(entry.door), "model": self.model_label(turn.model)}
        if self.key_label:
            labels["key"] = key_name
        self.turns.labels(**labels, outcome=entry.status).inc()
        self.duration.labels(**labels).observe(entry.duration_ms / 1000)
        if meter.time_to_first_token is not None:
            self.ttft.labels(**labels).observe(meter.time_to_first_token)
        for name, counter in self.tokens.items():
            counter.labels(**labels).inc(getattr(entry, name))
        self.cost.labels(**labels).inc(entry.cost_usd)
        for tool, count in HOSTED_CALLS.items():
            if getattr(entry, count):
                self.hosted_calls.labels(**labels, tool=tool).inc(getattr(entry, count))
        if entry.status == "error":
            key = {"key": key_name} if self.key_label else {}
            self.errors.labels(door=labels["door"], kind=entry.error or "unknown", **key).inc()

    def request_ended(self, door: str, status: int | None, model: str | None, key_name: str | None) -> None:
        """One HTTP request answered (requests.py); `model`: its turn's label, None if it ran none."""
        labels = {"door": door, "status": status_class(status), "model": model or NO_TURN}
        if self.key_label:
            labels["key"] = key_name or "anonymous"
        self.requests.labels(**labels).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def door_of_turn(door: str) -> str:
    """A ledger door as a label: one of the three front doors, or "batch" (a batch's request)."""
    return door if door in ("chat", "messages", "responses", "batch") else "other"


class EngineCollector(Collector):
    """Processes and sessions, read when /metrics is scraped."""

    def __init__(self, engine: Engine, sessions: SessionRegistry) -> None:
        self.engine = engine
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(PREFIX + "sessions", "Live sessions", value=self.sessions.stats(None)["sessions"])
        processes: Any = self.engine.stats(None).get("processes")
        if not isinstance(processes, dict):
            return  # an engine without a process pool
        gauges = (
            (
                "processes_live",
                "live",
                "Claude Code processes counted against the limit (running, parked, spare, held)",
            ),
            ("processes_spare", "spares", "Spare processes started ahead of requests"),
            ("processes_held", "held", "Processes holding a turn open for the client's function results"),
            ("processes_exiting", "exiting", "Processes asked to close, not yet gone"),
            ("processes_max", "max_live", "The process limit"),
        )
        for name, stat, text in gauges:
            yield GaugeMetricFamily(PREFIX + name, text, value=processes.get(stat, 0))
        memory = processes.get("memory_in_use_mib", 0) * 1024 * 1024
        yield GaugeMetricFamily(
            PREFIX + "processes_memory_bytes", "Memory the Claude Code processes take", value=memory
        )
        counters = (
            ("processes_spawned", "spawned_total", "Claude Code processes started"),
            ("pool_waits", "waits_total", "Turns that waited for room for a process"),
            ("busy_answers", "busy_total", "Turns refused with gateway_busy (no room within GATEWAY_BUSY_WAIT)"),
        )
        for name, stat, text in counters:
            yield CounterMetricFamily(PREFIX + name, text, value=processes.get(stat, 0))
