"""The hosted web tools' rules, held inside Claude Code: a PreToolUse hook on its WebSearch and
WebFetch calls in a process that serves a request's `web_search` / `web_fetch` (core/hosted.py).

- A search gets the request's domain filters: its `allowed_domains` replace Claude's own unless
  Claude narrowed them further (a subset), its `blocked_domains` are added to Claude's. Anthropic
  takes one or the other, so with both asked the allow-list wins and the block-list is dropped.
- A fetch of a URL outside the allowed domains, or on a blocked one, is refused, with the reason.
- A turn makes at most `max_uses` calls of each; one more is refused, and Claude is told why.
- A fetch of a host that resolves to a loopback, link-local, private or otherwise special address
  is refused, unless the operator allows them (GATEWAY_ALLOW_PRIVATE_URLS): the URL is the
  client's, and the CLI runs on the gateway's host and network. The CLI resolves the name again
  when it connects (DNS rebinding could point it elsewhere then), but it fetches over HTTPS only
  and checks the certificate against the name, which a service on the private network does not
  hold for someone else's name; and it does not follow redirects to other hosts.

A domain covers its subdomains, as Anthropic's filters do. The counts start again with each turn
(`new_turn`, called as the turn's message goes to the process).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from typing import Any, cast
from urllib.parse import urlsplit

from claude_agent_sdk import HookCallback, HookMatcher

from ...core.hosted import DOMAINS_REFUSED, HOSTED_BY_CLAUDE_TOOL, MAX_USES_REFUSED, WEB_FETCH, Hosted, WebRules


def covered(host: str, domains: tuple[str, ...]) -> bool:
    """Whether `host` is one of `domains` or below one of them."""
    host = host.rstrip(".").lower()
    for domain in domains:
        domain = domain.strip().lower().removeprefix("*.").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def search_input(asked: dict[str, Any], rules: WebRules) -> dict[str, Any]:
    """A WebSearch call's input with the request's filters applied."""
    found = dict(asked)
    own = tuple(str(d) for d in asked.get("allowed_domains") or ())
    if rules.allowed_domains:
        narrower = own and all(covered(domain, rules.allowed_domains) for domain in own)
        found["allowed_domains"] = list(own if narrower else rules.allowed_domains)
        found.pop("blocked_domains", None)
    elif rules.blocked_domains:
        theirs = [str(d) for d in asked.get("blocked_domains") or ()]
        found["blocked_domains"] = theirs + [d for d in rules.blocked_domains if d not in theirs]
    return found


def fetch_refusal(url: str, rules: WebRules) -> str | None:
    """Why a WebFetch of `url` is refused by the request's domain rules; None if it is not."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return f"{url!r} is not a URL."
    if rules.allowed_domains and not covered(host, rules.allowed_domains):
        return f"{host} is not among the domains this request allows {DOMAINS_REFUSED[0]}."
    if covered(host, rules.blocked_domains):
        return f"{host} is among the domains this request blocks {DOMAINS_REFUSED[1]}."
    return None


async def private_address(host: str) -> str | None:
    """The first address of `host` that is not a public one (or why it does not resolve); None if
    every address is public."""
    try:
        lookup = asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        found = await asyncio.wait_for(lookup, RESOLVE_TIMEOUT)
    except (OSError, UnicodeError, TimeoutError):
        return f"{host} does not resolve"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return f"{host} resolves to {ip}, a {'loopback' if ip.is_loopback else 'non-public'} address"
    return None


RESOLVE_TIMEOUT = 5.0  # seconds a fetch's host may take to resolve (a name that does not: refused)


class WebGate:
    def __init__(self, hosted: Hosted, allow_private: bool = False) -> None:
        self.hosted = hosted
        self.allow_private = allow_private  # GATEWAY_ALLOW_PRIVATE_URLS
        self.used: dict[str, int] = {}

    def new_turn(self) -> None:
        self.used.clear()

    async def hook(self, hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        hosted = HOSTED_BY_CLAUDE_TOOL.get(tool)
        rules = self.hosted.rules(hosted) if hosted else None
        if hosted is None or rules is None:
            return {}
        asked = dict(hook_input.get("tool_input") or {})
        if rules.max_uses is not None and self.used.get(hosted, 0) >= rules.max_uses:
            return _deny(
                f"{tool} was used {rules.max_uses} times in this turn, the most this request allows {MAX_USES_REFUSED}."
            )
        if hosted == "web_fetch":
            url = str(asked.get("url", ""))
            if why := fetch_refusal(url, rules):
                return _deny(why)
            host = urlsplit(url).hostname or ""
            if not self.allow_private and (why := await private_address(host)):
                return _deny(f"{why}, which this gateway does not fetch (GATEWAY_ALLOW_PRIVATE_URLS).")
        self.used[hosted] = self.used.get(hosted, 0) + 1
        decision: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": "allow"}
        if hosted == "web_search":
            decision["updatedInput"] = search_input(asked, rules)
        return {"hookSpecificOutput": decision}


def _deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def web_setup(hosted: Hosted, allow_private: bool) -> tuple[WebGate | None, dict[str, list[HookMatcher]], str | None]:
    """What a process that serves the hosted web tools gets: the gate, its hook, and Claude Code's
    settings (JSON). WebFetch first asks claude.ai whether a domain may be fetched; the request's
    own domain rules hold instead, and the gateway may have no route there."""
    web = hosted.claude_tools
    if not web:
        return None, {}, None
    gate = WebGate(hosted, allow_private)
    hooks = {"PreToolUse": [HookMatcher(matcher="|".join(web), hooks=[cast(HookCallback, gate.hook)])]}
    return gate, hooks, json.dumps({"skipWebFetchPreflight": True}) if WEB_FETCH in hosted.names else None
