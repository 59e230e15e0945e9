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


@pytest.fixture(scope="session")
def gateway(upstream, cli_config_dir, tmp_path_factory):
    server = GatewayServer(
        {
            **upstream.cli_env(str(cli_config_dir)),
            "GATEWAY_API_KEYS": f"{API_KEY},{OTHER_KEY}",
            "GATEWAY_MODEL_ALIASES": "gpt-4o=sonnet",
            "GATEWAY_RETRY_AFTER_DEFAULT": "7",
        },
        tmp_path_factory.mktemp("gateway"),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cold_gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway with warm processes off: one Claude process per request, closed with it."""
    server = GatewayServer(
        {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY, "GATEWAY_WARM_PROCESSES": "false"},
        tmp_path_factory.mktemp("cold-gateway"),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def brief_gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway whose sessions and processes expire after 2 s, and whose sessions wait 0.3 s when busy."""
    server = GatewayServer(
        {
            **upstream.cli_env(str(cli_config_dir)),
            "GATEWAY_API_KEYS": API_KEY,
            "GATEWAY_SESSION_TTL": "2",
            "GATEWAY_PROCESS_IDLE_TIMEOUT": "2",
            "GATEWAY_SESSION_BUSY_WAIT": "0.3",
        },
        tmp_path_factory.mktemp("brief-gateway"),
    ).start()
    yield server
    server.stop()


@pytest.fixture
def fake(upstream):
    upstream.reset()
    yield upstream
    upstream.reset()


@pytest.fixture
def client(gateway, fake) -> OpenAI:
    return OpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
