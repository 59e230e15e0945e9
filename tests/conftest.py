"""Fixtures for every test: the gateway's data folder (keys, usage ledger) in the test's own tmp, and a
real redis-server for the tests of shared state."""

from __future__ import annotations

import pytest

from tests.real_redis import RedisServer


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "gateway-data"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free port, shared by the run; tests flush it (`redis_url`)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The shared redis-server, emptied for this test."""
    redis_server.flush()
    return redis_server.url
