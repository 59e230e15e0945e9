"""Remote MCP servers (core/hosted.py), checked before a turn starts, at every door that takes them:
- the URL must pass the key's `mcp_urls` allow-list (tenancy/policy.py; keyless mode and
  GATEWAY_API_KEYS keys: GATEWAY_MCP_URLS; with no rule at all, any https URL);
- its name is resolved once, here, and every address it resolves to must be public (not loopback,
  link-local, private, shared, multicast or reserved) unless GATEWAY_ALLOW_PRIVATE_URLS: SSRF into
  the gateway's own network. The addresses checked go with the server (`RemoteServer.addresses`),
  and the engine's proxy connects to those only (engine/processes/mcp_proxy.py), so a name that
  resolves elsewhere a moment later (DNS rebinding) reaches nothing new.
Refusals are 403 `mcp_url_not_allowed` (400 for a name that does not resolve), naming the field.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from ..agent.policy import DEFAULT_PORTS, url_allowed
from ..core.errors import GatewayError, invalid_request
from ..core.hosted import Hosted, RemoteServer
from ..core.settings import Settings
from ..tenancy.auth import Tenant

RESOLVE_TIMEOUT = 5.0


def refused(param: str, why: str) -> GatewayError:
    return GatewayError(403, f"{param}: {why}", "permission_error", "mcp_url_not_allowed", param)


def rules(settings: Settings, tenant: Tenant) -> list[str]:
    """The URL prefixes the caller may reach; empty: any https URL."""
    if tenant.policy is not None and tenant.policy.mcp_urls is not None:
        return tenant.policy.mcp_urls
    return [rule.strip() for rule in settings.mcp_urls.split(",") if rule.strip()]


def public(address: str) -> bool:
    """Whether an address is on the public internet (an IPv4-mapped IPv6 one judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> tuple[str, ...]:
    loop = asyncio.get_running_loop()
    found = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
    return tuple(dict.fromkeys(str(info[4][0]) for info in found))


async def checked(hosted: Hosted, settings: Settings, tenant: Tenant, params: dict[str, str], agent: bool) -> Hosted:
    """`hosted` with each remote server's addresses resolved and checked; `params` names each
    server's URL field by its label, for the refusals. Not in agent mode, which has its own."""
    if not hosted.mcp:
        return hosted
    if agent:
        param = params.get(hosted.mcp[0].label, "")
        raise invalid_request(
            f"{param}: remote MCP servers are served in chat mode; in agent mode name the server in "
            "claude_code.mcp_servers (docs/agent-mode.md).",
            param,
            "unsupported_parameter",
        )
    allowed = rules(settings, tenant)
    servers = []
    for server in hosted.mcp:
        servers.append(await _checked(server, settings, allowed, params.get(server.label, "")))
    return replace(hosted, mcp=tuple(servers))


async def _checked(server: RemoteServer, settings: Settings, allowed: list[str], param: str) -> RemoteServer:
    url = urlsplit(server.url)
    if allowed and not any(url_allowed(server.url, prefix) for prefix in allowed):
        raise refused(param, f"this key may not reach {server.url!r} (its mcp_urls allow-list).")
    if not allowed and (url.scheme != "https" or not url_allowed(server.url, f"https://{url.netloc}/")):
        raise refused(param, "only https URLs may be named here (the operator can allow others with GATEWAY_MCP_URLS).")
    host = url.hostname or ""
    try:
        addresses = await resolve(host, url.port or DEFAULT_PORTS[url.scheme])
    except (OSError, asyncio.TimeoutError, UnicodeError):
        raise invalid_request(f"{param}: the MCP server's host {host!r} could not be resolved.", param) from None
    if not settings.allow_private_urls and (private := [a for a in addresses if not public(a)]):
        raise refused(
            param,
            f"{host!r} resolves to {private[0]}, a loopback, link-local or private address, which this gateway does "
            "not reach (its operator can allow it with GATEWAY_ALLOW_PRIVATE_URLS=true).",
        )
    return replace(server, addresses=addresses)
