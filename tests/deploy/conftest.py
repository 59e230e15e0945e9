"""The `slow` marker of tests/deploy (registered here: pyproject.toml is not this suite's to change)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: installs the locked dependencies from PyPI in a fresh folder (deselect with -m 'not slow')"
    )
