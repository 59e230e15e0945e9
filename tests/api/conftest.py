"""Fixtures for the in-process app tests: the real ClaudeEngine driving our fake `claude`."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from app.engine.claude import ClaudeEngine
from app.http.app import create_app
from tests.support import FAKE_CLAUDE


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    path = tmp_path / "claude-config"
    path.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(path))
    # The fake is a python3 script: find the test interpreter first (pyenv shims are slow).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return path


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"cli_path": str(FAKE_CLAUDE), "work_dir": str(tmp_path / "work"), **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture
async def gateway(tmp_path, config_dir):
    """(client, engine, settings) for a gateway on the fake CLI; settings may be changed first."""
    engines = []

    async def start(**overrides):
        settings = make_settings(tmp_path, **overrides)
        engine = ClaudeEngine(settings)
        await engine.start()
        engines.append(engine)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, engine)), base_url="http://localhost", timeout=30
        )
        return client, engine, settings

    yield start
    for engine in engines:
        await engine.close()
    gc.collect()  # finalise the exited CLIs' pipes while the event loop still runs
