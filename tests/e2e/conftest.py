"""End-to-end fixtures: the REAL bundled Claude Code CLI, talking to our fake Anthropic API,
behind the gateway running as a real uvicorn server, driven by the official `openai` client."""

from __future__ import annotations

import pytest
from openai import OpenAI

from tests.fakes.upstream import FakeAnthropic
from tests.support import GatewayServer

API_KEY = "e2e-test-key"
OTHER_KEY = "e2e-other-tenant-key"


@pytest.fixture(scope="session")
def upstream():
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def cli_config_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("claude-config")


def serve(upstream, cli_config_dir, tmp_path_factory, name: str, **settings: str):
    """A gateway server on the real CLI and the fake upstream, with GATEWAY_* `settings`."""
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY}
    env.update({f"GATEWAY_{key.upper()}": value for key, value in settings.items()})
    server = GatewayServer(env, tmp_path_factory.mktemp(name)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "gateway",
        api_keys=f"{API_KEY},{OTHER_KEY}",
        model_aliases="gpt-4o=sonnet",
        retry_after_default="7",
    )


@pytest.fixture(scope="session")
def cold_gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway with warm processes off: one Claude process per request, closed with it."""
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "cold-gateway", warm_processes="false")


@pytest.fixture(scope="session")
def brief_gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway whose sessions and processes expire after 2 s, and whose sessions wait 0.3 s when busy."""
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "brief-gateway",
        session_ttl="2",
        process_idle_timeout="2",
        session_busy_wait="0.3",
    )


@pytest.fixture
def fake(upstream):
    upstream.reset()
    yield upstream
    upstream.reset()


@pytest.fixture
def client(gateway, fake) -> OpenAI:
    return OpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
