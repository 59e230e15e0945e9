"""Keyless mode serves this machine only: table of who gets in."""

from __future__ import annotations

import pytest

from app.auth import keyless_guard


@pytest.mark.parametrize(
    "client, host, origin, allowed",
    [
        ("127.0.0.1", "127.0.0.1:8000", None, True),
        ("127.0.0.1", "localhost:8000", None, True),
        ("::1", "[::1]:8000", None, True),
        ("127.0.0.1", "localhost", "http://localhost:3000", True),  # a local dev UI
        ("10.1.2.3", "gateway.internal:8000", None, False),  # another machine
        ("192.168.1.5", "127.0.0.1:8000", None, False),
        ("127.0.0.1", "evil.example:8000", None, False),  # DNS rebinding
        ("127.0.0.1", "127.0.0.1:8000", "https://evil.example", False),  # a web page posting
        ("127.0.0.1", "127.0.0.1:8000", "null", False),  # a sandboxed page
    ],
)
def test_keyless_guard(client, host, origin, allowed):
    refused = keyless_guard(client, host, origin)
    assert (refused is None) == allowed
    if refused is not None:
        assert refused.status == 403 and "GATEWAY_API_KEYS" in refused.message
