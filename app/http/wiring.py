"""The gateway built from its settings: each part made once, in the order their side effects need
(the demo's environment before the engine, agent mode's settings read before any request), and
handed whole to the parts that use it: the Gateway is built whole, nothing of it filled in later
(the batch bounds still tell the file store what else counts in a quota, and the metrics join the
ledger's observers, once each, before the app serves). create_app
(app/http/app.py) assembles the HTTP app around what this builds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ..agent.policy import gateway_policy, operator_servers
from ..batches import openai as openai_batches
from ..batches.bounds import Bounds
from ..batches.redis import RedisBatchStore
from ..batches.runner import BatchRunner
from ..batches.sqlite import BatchStore
from ..core.disk.workdir import check_root
from ..core.redis import RedisLink
from ..core.settings import Settings
from ..core.traffic import Traffic
from ..demo.mode import enter_demo
from ..demo.upstream import DemoUpstream
from ..doors.batch import BatchDoor
from ..doors.gateway import Gateway
from ..engine.interface import Engine
from ..files import Files, limits, open_files
from ..observability.metrics import Metrics
from ..observability.requests import TurnNotes
from ..sessions import open_keeper
from ..sessions.credential_names import CredentialNames
from ..sessions.registry import SessionRegistry
from ..sessions.service import SessionService
from ..sessions.stored_responses import ResponseStore
from ..store import open_store
from ..tenancy.keys import KeyService
from ..workspaces.workspaces import Workspaces


@dataclass
class Wired:
    """The gateway, its metrics, and what its lifespan starts and stops besides (app/http/lifespan.py)."""

    gateway: Gateway
    metrics: Metrics
    demo: DemoUpstream | None  # the demo's fake Anthropic API, in demo mode with the real engine


def wire(settings: Settings, engine: Engine | None) -> Wired:
    check_root(settings.data_path, "GATEWAY_DATA_DIR")  # private to this user, or no start (core/disk/workdir.py)
    demo = None
    if settings.demo and engine is None:  # before the engine: its processes read the demo's environment
        demo = enter_demo(settings.config_dir)
    shared = RedisLink.connect(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    if engine is None:
        from ..engine.claude import ClaudeEngine

        engine = ClaudeEngine(settings, shared)

    # Agent mode's own settings are read now: a bad one stops the start, never a request.
    gateway_policy(settings.agent_policy)
    operator_servers(settings.mcp_config)
    registry = SessionRegistry(
        settings.session_ttl, on_end=engine.end_conversation, max_per_tenant=settings.max_sessions_per_key
    )
    store = open_store(settings.data_path, shared, response_ttl=settings.session_ttl)
    stored = ResponseStore(
        settings.session_ttl, settings.max_stored_responses, settings.max_stored_response_bytes, store=store
    )
    workspaces = Workspaces(settings.data_path / "workspaces", settings.workspace_quota_mb)
    keeper = open_keeper(registry, shared, settings.session_ttl)
    names = CredentialNames(settings.secret_key, store)
    service = SessionService(
        registry,
        engine,
        settings.session_busy_wait,
        store,
        settings.busy_wait,
        workspaces,
        keeper,
        names,
        turn_timeout=settings.request_timeout,
    )
    uploaded = open_files(settings, store, shared)
    keys = KeyService(settings, store)
    traffic = Traffic()
    batches = batch_runner(settings, engine, service, stored, uploaded, keys, traffic, shared)
    gateway = Gateway(
        settings, engine, service, stored, store, keys, workspaces, uploaded, batches, traffic, redis=shared
    )
    observed = Metrics(settings, engine, registry)
    service.ledger.observers += [observed.turn_ended, TurnNotes(observed)]
    return Wired(gateway, observed, demo)


def batch_runner(
    settings: Settings,
    engine: Engine,
    service: SessionService,
    stored: ResponseStore,
    uploaded: Files,
    keys: KeyService,
    traffic: Traffic,
    shared: RedisLink | None,
) -> BatchRunner:
    """The batch runner and the parts it uses: its store (Redis with replicas, else SQLite), the
    keys' bounds, the batch door that answers each request, OpenAI's files at a batch's end."""
    store = RedisBatchStore(shared) if shared is not None else BatchStore(settings.data_path)
    bounds = Bounds(store, uploaded, settings.batch_max_open_per_key, limits(settings).quota_bytes)
    door = BatchDoor(settings.strict_params, engine, service, stored, uploaded, settings)
    return BatchRunner(
        store,
        bounds,
        door.answer,
        keys=keys,
        budget=service.limits.check_budget,
        traffic=traffic,
        settings=settings,
        replicated=shared is not None,
        finalizers={openai_batches.API: partial(openai_batches.write_files, uploaded, store)},
    )
