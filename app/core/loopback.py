"""What counts as "this machine": the one rule behind keyless mode and the safe bind address.

A name passes only if it cannot be anything but loopback, whatever DNS says:
- the exact name `localhost` (any case), which browsers and resolvers keep on this machine;
- an IPv4 literal in 127.0.0.0/8 written in canonical dotted form (four decimal parts, no leading
  zeros), or the IPv6 literal ::1 (in brackets in a Host header or URL).

Everything else is refused, on purpose:
- names that merely start like loopback (`127.0.0.1.nip.io`, `localhost.evil`): a DNS-rebinding
  page reaches 127.0.0.1 under exactly such a name;
- non-canonical numeric forms (`127.1`, `0x7f.1`, `0177.0.0.1`, `2130706433`): some resolvers read
  them as 127.0.0.1 and some as host names, and no browser sends them in a Host header, so a
  client that does is refused rather than guessed about;
- a trailing dot (`localhost.`, `127.0.0.1.`): a fully qualified name that DNS answers, not the
  resolver's built-in `localhost`.
The socket peer is an address the kernel reported, not a name: there an IPv4-mapped IPv6 loopback
(`::ffff:127.0.0.1`, what a dual-stack socket reports) is loopback too.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# host[:port] of a Host header or an origin's authority: a bracketed IPv6 literal or a name
# without ':', '@', '/' or brackets, then an optional decimal port.
_AUTHORITY = re.compile(r"^(?:\[(?P<v6>[^\[\]]+)\]|(?P<name>[^:\[\]@/\\]+))(?::(?P<port>\d{1,5}))?$")


def is_loopback_name(name: str | None) -> bool:
    """`localhost` or a canonical loopback IP literal (IPv6 without brackets). See the module doc."""
    if not name:
        return False
    if name.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_loopback and str(address) == name
    return address.is_loopback and address.scope_id is None


def is_loopback_peer(address: str | None) -> bool:
    """A socket peer address on this machine (IPv4-mapped IPv6 included)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback


def is_loopback_authority(authority: str | None) -> bool:
    """A Host header value (`host[:port]`, IPv6 in brackets) that names loopback."""
    match = _AUTHORITY.match(authority or "")
    if match is None:
        return False
    v6 = match.group("v6")
    if v6 is not None:
        return ":" in v6 and is_loopback_name(v6)
    return is_loopback_name(match.group("name"))


def is_loopback_origin(origin: str | None) -> bool:
    """An Origin header (`scheme://host[:port]`) of a page served from this machine over http(s)."""
    try:
        parts = urlsplit(origin or "")
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.fragment:
        return False
    return is_loopback_authority(parts.netloc)
