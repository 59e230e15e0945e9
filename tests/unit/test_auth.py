"""Keyless mode serves this machine only: table of who gets in."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from app.http.middleware.keyless import keyless_guard


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
        ("::ffff:127.0.0.1", "127.0.0.1:8000", None, True),  # a dual-stack socket's IPv4 peer
        ("127.0.0.2", "127.0.0.2", None, True),
        ("::ffff:10.0.0.1", "127.0.0.1:8000", None, False),
        ("127.0.0.1.nip.io", "127.0.0.1:8000", None, False),  # a peer is an address, never a name
    ],
)
def test_keyless_guard(client, host, origin, allowed):
    refused = keyless_guard(client, host, origin)
    assert (refused is None) == allowed
    if refused is not None:
        assert refused.status == 403 and "GATEWAY_API_KEYS" in refused.message


# Host header values: only `localhost` (any case) and canonical loopback literals, port or not.
@pytest.mark.parametrize(
    "host, allowed",
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8000", True),
        ("127.3.4.5:1", True),
        ("localhost", True),
        ("LOCALHOST:8000", True),
        ("LocalHost", True),
        ("[::1]", True),
        ("[::1]:8000", True),
        ("[0:0:0:0:0:0:0:1]:8000", True),
        ("127.0.0.1.nip.io", False),
        ("127.0.0.1.nip.io:8000", False),  # DNS rebinding names
        ("127.0.0.1.attacker.example", False),
        ("127.evil.example", False),
        ("localhost.evil", False),
        ("localhost.evil:8000", False),
        ("evil-localhost", False),
        ("localhost.", False),
        ("localhost.:8000", False),
        ("127.0.0.1.", False),  # trailing dot
        ("127.1", False),
        ("127.1:8000", False),
        ("0x7f.1", False),
        ("0x7f000001", False),  # not canonical
        ("2130706433", False),
        ("0177.0.0.1", False),
        ("127.000.000.001", False),
        ("::1", False),
        ("[::1%lo]:8000", False),
        ("[::ffff:127.0.0.1]", False),  # brackets required; no zone
        ("[127.0.0.1]", False),
        ("[localhost]", False),
        ("evil.example@127.0.0.1", False),
        ("127.0.0.1:8000@evil.example", False),
        ("127.0.0.1:80:80", False),
        ("127.0.0.1:", False),
        ("127.0.0.1:abc", False),
        ("127.0.0.1/x", False),
        ("", False),
        ("[::1]x", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("[::]", False),
    ],
)
def test_keyless_host_header(host, allowed):
    assert (keyless_guard("127.0.0.1", host, None) is None) == allowed


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("http://localhost:3000", True),
        ("https://localhost", True),
        ("http://127.0.0.1:5173", True),
        ("http://[::1]:8080", True),
        ("http://LOCALHOST:3000", True),
        ("null", False),
        ("", False),
        ("http://127.0.0.1.nip.io", False),
        ("http://127.0.0.1.nip.io:8000", False),
        ("https://localhost.evil", False),
        ("http://localhost.", False),
        ("http://127.0.0.1.:8000", False),
        ("http://127.1", False),
        ("http://0x7f.1", False),
        ("file://localhost", False),
        ("chrome-extension://abcdef", False),  # not a page served over http(s)
        ("http://evil.example@localhost", False),
        ("http://localhost:3000/path", False),
        ("localhost:3000", False),
        ("http://[::1", False),
    ],
)
def test_keyless_origin(origin, allowed):
    assert (keyless_guard("127.0.0.1", "127.0.0.1:8000", origin) is None) == allowed


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("localhost.", False),
        ("127.1", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("localhost.evil", False),
    ],
)
def test_binding_without_keys_only_on_loopback(host, allowed):
    settings = Settings(_env_file=None, host=host, api_keys="")
    if allowed:
        settings.check_bind()
    else:
        with pytest.raises(SystemExit, match="GATEWAY_API_KEYS"):
            settings.check_bind()
    Settings(_env_file=None, host=host, api_keys="k").check_bind()  # with a key, anything goes


def test_keys_are_compared_as_digests_of_equal_length(monkeypatch):
    """compare_digest on raw keys of different lengths returns at once and so leaks the length:
    every comparison must be between two SHA-256 digests, and every key must be compared."""
    import hmac

    from app.tenancy import auth

    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    keys = ["short", "a-much-longer-gateway-key-0123456789"]
    assert auth.key_matches("a-much-longer-gateway-key-0123456789", keys)
    assert auth.key_matches("short", keys)
    for refused in ("a-much-longer", "shor", "shortx", "", "x" * 1000):  # prefixes and extensions
        assert not auth.key_matches(refused, keys)
    assert compared and all(pair == (32, 32) for pair in compared)
    assert len(compared) == 7 * len(keys)
