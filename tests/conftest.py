"""Fixtures for every test: the gateway's data folder (keys, usage ledger) in the test's own tmp."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "gateway-data"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(path))
    return path
