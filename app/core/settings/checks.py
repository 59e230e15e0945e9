"""The rules an operator's value must pass before the gateway starts: a secret that is not
guessable (the admin key, the secret key), and GATEWAY_ALLOWED_ORIGINS as exact origins. The
`Settings` validators (__init__.py) call them and word the refusal.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# A secret of the operator's (the admin key, the secret key) has at least this many characters,
# at least MIN_SECRET_KINDS of them different: `openssl rand -hex 32` passes, `change-me` or
# "aaaa..." do not. (A rough gate on guessable values, not an entropy measure.)
MIN_SECRET_LENGTH = 32
MIN_SECRET_KINDS = 10


def weak_secret(value: str) -> bool:
    return len(value) < MIN_SECRET_LENGTH or len(set(value)) < MIN_SECRET_KINDS


def parse_origins(text: str) -> frozenset[str]:
    """GATEWAY_ALLOWED_ORIGINS' origins, lowercased as browsers send them; ValueError naming a bad entry."""
    origins = set()
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        parts = urlsplit(entry)
        bad_parts = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
        if parts.scheme not in ("http", "https") or not parts.netloc or bad_parts:
            raise ValueError(
                f"GATEWAY_ALLOWED_ORIGINS: {entry[:100]!r} is not an origin (scheme://host[:port], "
                "e.g. https://chat.example.com)"
            )
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)
