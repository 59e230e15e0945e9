"""Hosted web search and web fetch end to end: the official clients -> the gateway -> the REAL
Claude Code CLI, whose WebSearch makes its own model call to the fake upstream (answered as
Anthropic's API answers `web_search_20250305`: tests/fakes/server_tools.py) and whose WebFetch
reads a page of a fake HTTPS site on loopback (tests/fakes/web_pages.py).

Each door shows the calls in its API's shape (dialects/hosted.py), and the request's limits
(domains, max_uses) hold inside Claude Code (engine/processes/web_gate.py).
"""

from __future__ import annotations

import anthropic
import pytest
from openai import OpenAI

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply
from tests.fakes.web_pages import FakeSite
from tests.support import GatewayServer

pytestmark = pytest.mark.e2e

DOCS = "https://docs.example.org/python-release"  # what the fake search finds for "python release"
NEWS = "https://news.example.com/python-release"
SEARCH = {"name": "WebSearch", "input": {"query": "python release"}}
CITING = f"Python 3.14 is out, says [the docs]({DOCS})."


def search_then_cite(fake, *searches: dict) -> None:
    """Claude searches (each search one step), then answers citing the docs page."""
    for search in searches or (SEARCH,):
        fake.enqueue(Reply(tool_uses=[search]))
    fake.enqueue(Reply(text=CITING))


def searches_made(fake) -> list[dict]:
    """The web_search tool of each of Claude Code's own search calls, as the upstream got it."""
    return [t for body in fake.requests for t in body.get("tools") or [] if t.get("type", "").startswith("web_search")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = FakeSite(tmp_path_factory.mktemp("site")).start()
    site.pages["/notes"] = (
        "<html><head><title>Release notes</title></head><body><h1>Notes</h1><p>All new.</p></body></html>"
    )
    yield site
    site.stop()


@pytest.fixture(scope="module")
def web_gateway(upstream, cli_config_dir, tmp_path_factory, site):
    """A gateway whose CLI trusts the fake site's certificate (as a company's CA would be trusted),
    and that may fetch from loopback; agent mode on."""
    env = {
        **upstream.cli_env(str(cli_config_dir)),
        "GATEWAY_API_KEYS": API_KEY,
        "GATEWAY_ALLOW_PRIVATE_URLS": "true",
        "GATEWAY_AGENT_MODE": "true",
        "NODE_EXTRA_CA_CERTS": str(site.ca_file),
    }
    server = GatewayServer(env, tmp_path_factory.mktemp("web-gateway")).start()
    yield server
    server.stop()


def test_responses_web_search_call_sources_and_citations(client, fake):
    search_then_cite(fake)
    raw = client.responses.with_raw_response.create(
        model="sonnet",
        input="What is new in Python?",
        tools=[
            {"type": "web_search", "filters": {"allowed_domains": ["docs.example.org"]}, "search_context_size": "low"}
        ],
        include=["web_search_call.action.sources"],
    )
    response = raw.parse()
    call, message = response.output[0], response.output[-1]
    assert call.type == "web_search_call" and call.status == "completed"
    assert call.action.type == "search" and call.action.query == "python release"
    # The request's filter reached Claude Code's search: only the docs page was found.
    assert [s.url for s in call.action.sources] == [DOCS]
    assert searches_made(fake)[0]["allowed_domains"] == ["docs.example.org"]
    assert message.type == "message" and response.output_text == CITING
    annotation = message.content[0].annotations[0]
    assert (annotation.type, annotation.url) == ("url_citation", DOCS)
    assert CITING[annotation.start_index : annotation.end_index] == f"[the docs]({DOCS})"
    assert "tools[0].search_context_size" in raw.headers["x-gateway-ignored-params"]


def test_responses_web_search_streams_its_stages(client, fake):
    search_then_cite(fake)
    events = list(client.responses.create(model="sonnet", input="news?", tools=[{"type": "web_search"}], stream=True))
    kinds = [e.type for e in events]
    stages = [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    assert [k for k in kinds if k.startswith("response.web_search_call")] == stages
    assert kinds.index(stages[-1]) < kinds.index("response.output_text.delta")
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [a.annotation.url for a in added] == [DOCS]
    final = events[-1].response
    assert [item.type for item in final.output] == ["web_search_call", "message"]
    assert final.output[0].action.sources is None  # not asked for with include
    assert [a.url for a in final.output[1].content[0].annotations] == [DOCS]


def test_chat_web_search_options_annotate_the_message(client, fake):
    search_then_cite(fake)
    completion = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "news?"}], web_search_options={}
    )
    message = completion.choices[0].message
    assert message.content == CITING
    [annotation] = message.annotations
    assert annotation.type == "url_citation" and annotation.url_citation.url == DOCS
    span = annotation.url_citation
    assert CITING[span.start_index : span.end_index] == f"[the docs]({DOCS})"
    assert not getattr(message, "reasoning_content", None)  # a hosted search is no activity line

    search_then_cite(fake)
    chunks = list(
        client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "again?"}], web_search_options={}, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    cited = [a for c in chunks if c.choices for a in (getattr(c.choices[0].delta, "annotations", None) or [])]
    assert text == CITING and [a["url_citation"]["url"] for a in cited] == [DOCS]
    start, end = cited[0]["url_citation"]["start_index"], cited[0]["url_citation"]["end_index"]
    assert text[start:end] == f"[the docs]({DOCS})"


def anthropic_client(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)


def test_anthropic_web_search_blocks_citations_and_usage(gateway, fake):
    search_then_cite(fake)
    message = anthropic_client(gateway).messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "news?"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "blocked_domains": ["news.example.com"]}],
    )
    use, result, text = message.content
    assert use.type == "server_tool_use" and use.name == "web_search" and use.input == {"query": "python release"}
    assert use.id.startswith("srvtoolu_") and result.tool_use_id == use.id
    assert result.type == "web_search_tool_result" and [r.url for r in result.content] == [DOCS]
    assert searches_made(fake)[0]["blocked_domains"] == ["news.example.com"]
    assert text.type == "text" and text.text == CITING
    assert [(c.type, c.url, c.cited_text) for c in text.citations] == [("web_search_result_location", DOCS, "the docs")]
    assert message.usage.server_tool_use.web_search_requests == 1


def test_anthropic_web_search_streamed_and_max_uses(gateway, fake):
    twice = {"name": "WebSearch", "input": {"query": "python release again"}}
    search_then_cite(fake, SEARCH, twice)
    with anthropic_client(gateway).messages.stream(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "news?"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    ) as stream:
        starts = [e.content_block.type for e in stream if e.type == "content_block_start"]
        message = stream.get_final_message()
    assert starts == ["server_tool_use", "web_search_tool_result", "server_tool_use", "web_search_tool_result", "text"]
    first, second = message.content[1], message.content[3]
    assert [r.url for r in first.content] == [DOCS, NEWS]
    assert second.content.type == "web_search_tool_result_error" and second.content.error_code == "max_uses_exceeded"
    assert len(searches_made(fake)) == 1  # the second search never ran
    assert message.content[-1].citations[0].url == DOCS
    assert message.usage.server_tool_use.web_search_requests == 1  # the refused one is not counted


def test_anthropic_web_fetch_reads_the_page_and_holds_its_domains(web_gateway, fake, site):
    page = f"{site.url}/notes"
    fake.enqueue(Reply(tool_uses=[{"name": "WebFetch", "input": {"url": page, "prompt": "what is new?"}}]))
    fake.enqueue(Reply(text="All new, says the page."))
    claude = anthropic_client(web_gateway)
    message = claude.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "read it"}],
        tools=[{"type": "web_fetch_20250910", "name": "web_fetch", "allowed_domains": ["127.0.0.1"]}],
    )
    use, result, text = message.content
    assert use.type == "server_tool_use" and use.name == "web_fetch" and use.input == {"url": page}
    assert result.type == "web_fetch_tool_result" and result.content.type == "web_fetch_result"
    assert result.content.url == page and "Release notes" in result.content.content.source.data
    assert site.fetched[-1:] == ["/notes"] and text.text == "All new, says the page."
    fetched = len(site.fetched)
    assert message.usage.server_tool_use.web_fetch_requests == 1

    fake.enqueue(Reply(tool_uses=[{"name": "WebFetch", "input": {"url": page, "prompt": "again"}}]))
    fake.enqueue(Reply(text="could not"))
    refused = claude.messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "read it"}],
        tools=[{"type": "web_fetch_20250910", "name": "web_fetch", "allowed_domains": ["example.org"]}],
    )
    assert refused.content[1].content.type == "web_fetch_tool_error"
    assert refused.content[1].content.error_code == "url_not_allowed"
    assert len(site.fetched) == fetched  # not fetched again


def test_a_fetch_of_loopback_is_refused_by_default(gateway, fake, site):
    """The default gateway (GATEWAY_ALLOW_PRIVATE_URLS off) does not fetch from its own host."""
    page, before = f"{site.url}/notes", list(site.fetched)
    fake.enqueue(Reply(tool_uses=[{"name": "WebFetch", "input": {"url": page, "prompt": "x"}}]))
    fake.enqueue(Reply(text="could not"))
    message = anthropic_client(gateway).messages.create(
        model="sonnet",
        max_tokens=200,
        messages=[{"role": "user", "content": "read it"}],
        tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}],
    )
    assert message.content[1].content.type == "web_fetch_tool_error"
    assert "loopback" in str(fake.requests[-1]["messages"][-1]["content"])
    assert site.fetched == before


def test_agent_mode_serves_a_hosted_search_as_a_hosted_call(web_gateway, fake):
    """With claude_code (agent mode), the search asked for is turned on too, shown as a
    web_search_call, not as one of Claude Code's own tool calls."""
    search_then_cite(fake)
    client = OpenAI(base_url=f"{web_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    response = client.responses.create(
        model="sonnet",
        input="news?",
        tools=[{"type": "web_search", "filters": {"allowed_domains": ["news.example.com"]}}],
        extra_body={"claude_code": {"tools": ["Read"]}},
    )
    assert [item.type for item in response.output] == ["web_search_call", "message"]
    assert searches_made(fake)[0]["allowed_domains"] == ["news.example.com"]
    offered = {tool["name"] for tool in fake.requests[0]["tools"]}
    assert {"WebSearch", "Read"} <= offered and "WebFetch" not in offered


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
async def test_openai_agents_sdk_web_search_tool(gateway, fake, stream):
    """The OpenAI Agents SDK's WebSearchTool, on its Responses model: the search runs in Claude
    Code, the SDK reads the web_search_call item and the cited answer."""
    agents_sdk = pytest.importorskip("agents")
    from openai import AsyncOpenAI

    search_then_cite(fake)
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    researcher = agents_sdk.Agent(
        name="researcher",
        instructions="Search the web.",
        tools=[agents_sdk.WebSearchTool(filters={"allowed_domains": ["docs.example.org"]})],
        model=agents_sdk.OpenAIResponsesModel(model="sonnet", openai_client=client),
    )
    if stream:
        result = agents_sdk.Runner.run_streamed(researcher, "What is new in Python?")
        async for _ in result.stream_events():
            pass
    else:
        result = await agents_sdk.Runner.run(researcher, "What is new in Python?")
    assert result.final_output == CITING
    calls = [item for item in result.new_items if item.type == "tool_call_item"]
    assert [call.raw_item.type for call in calls] == ["web_search_call"]
    assert searches_made(fake)[0]["allowed_domains"] == ["docs.example.org"]
