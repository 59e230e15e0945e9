"""engine/processes/web_gate.py: the request's limits on Claude Code's WebSearch and WebFetch,
decided by the hook as Claude Code calls it; and dialects/hosted.py's citations."""

from __future__ import annotations

from app.core.hosted import Hosted, Source, WebRules
from app.dialects.hosted import citations
from app.engine.processes.web_gate import WebGate, covered, search_input


def call(tool: str, **tool_input) -> dict:
    return {"tool_name": tool, "tool_input": tool_input}


def decision(answer: dict) -> tuple[str, str]:
    out = answer["hookSpecificOutput"]
    return out["permissionDecision"], out.get("permissionDecisionReason", "")


def test_domains_cover_their_subdomains_only():
    assert covered("docs.example.org", ("example.org",)) and covered("example.org.", ("*.example.org",))
    assert not covered("badexample.org", ("example.org",)) and not covered("example.org", ("docs.example.org",))


def test_a_search_gets_the_requests_filters_unless_claude_narrowed_them():
    rules = WebRules(allowed_domains=("example.org",))
    assert search_input({"query": "q"}, rules)["allowed_domains"] == ["example.org"]
    assert search_input({"query": "q", "allowed_domains": ["docs.example.org"]}, rules)["allowed_domains"] == [
        "docs.example.org"
    ]
    assert search_input({"query": "q", "allowed_domains": ["evil.com"]}, rules)["allowed_domains"] == ["example.org"]
    blocked = search_input({"query": "q", "blocked_domains": ["a.com"]}, WebRules(blocked_domains=("b.com",)))
    assert blocked["blocked_domains"] == ["a.com", "b.com"]


async def test_max_uses_holds_per_turn_and_starts_again():
    gate = WebGate(Hosted(web_search=WebRules(max_uses=1)))
    assert decision(await gate.hook(call("WebSearch", query="a"), None, None))[0] == "allow"
    refused, why = decision(await gate.hook(call("WebSearch", query="b"), None, None))
    assert refused == "deny" and "max_uses" in why
    gate.new_turn()
    assert decision(await gate.hook(call("WebSearch", query="c"), None, None))[0] == "allow"


async def test_a_fetch_outside_the_domains_or_of_a_private_address_is_refused():
    gate = WebGate(Hosted(web_fetch=WebRules(allowed_domains=("localhost", "example.org"))))
    outside, why = decision(await gate.hook(call("WebFetch", url="https://evil.com/x"), None, None))
    assert outside == "deny" and "allowed_domains" in why
    private, why = decision(await gate.hook(call("WebFetch", url="https://localhost/x"), None, None))
    assert private == "deny" and "loopback" in why
    metadata = WebGate(Hosted(web_fetch=WebRules()))
    denied, why = decision(await metadata.hook(call("WebFetch", url="http://169.254.169.254/latest"), None, None))
    assert denied == "deny" and "169.254.169.254" in why
    allowed = WebGate(Hosted(web_fetch=WebRules()), allow_private=True)
    assert decision(await allowed.hook(call("WebFetch", url="https://127.0.0.1/x"), None, None))[0] == "allow"


async def test_tools_the_request_did_not_ask_for_are_left_to_claude_code():
    assert await WebGate(Hosted(web_search=WebRules())).hook(call("WebFetch", url="https://x.org"), None, None) == {}


def test_citations_are_the_links_to_found_pages_in_text_order():
    docs, news = Source("https://d.org/a", "D"), Source("https://n.com/b", "N")
    text = "See https://n.com/b and [the docs](https://d.org/a); not https://other.org."
    found = citations(text, [docs, news, Source("https://never.cited")])
    assert [(text[c.start : c.end], c.source) for c in found] == [
        ("https://n.com/b", news),
        ("[the docs](https://d.org/a)", docs),
    ]
    assert found[1].cited == "the docs"
