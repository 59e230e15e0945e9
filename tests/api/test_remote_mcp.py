"""Remote MCP servers as hosted tools, at the doors (a scripted engine: no Claude): what a request
may name, the URL's safety (the key's `mcp_urls` allow-list; loopback, link-local and private
addresses refused unless the operator allows them), and that the headers never come back in a
response. The end-to-end tests (tests/e2e/test_remote_mcp_e2e.py) run the calls."""

from __future__ import annotations

import pytest

from app.core.events import Finish, TextDelta, ToolList, ToolResult, ToolUse
from tests.support import make_client

ADMIN_KEY = "admin-secret-0123456789abcdef-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def mcp(url: str = "https://mcp.example.com/mcp", label: str = "remote", **extra) -> dict:
    return {"type": "mcp", "server_label": label, "server_url": url, "require_approval": "never", **extra}


def responses(*tools: dict, **extra) -> dict:
    return {"model": "sonnet", "input": "hi", "tools": list(tools), **extra}


def error_of(answer) -> dict:
    return answer.json()["error"]


async def test_connectors_and_labels_claude_cannot_name_are_400s():
    client, engine = make_client()
    async with client:
        connector = await client.post("/v1/responses", json=responses({**mcp(), "connector_id": "connector_gmail"}))
        odd = await client.post("/v1/responses", json=responses(mcp(label="a__b")))
        reserved = await client.post("/v1/responses", json=responses(mcp(label="client")))
        twice = await client.post("/v1/responses", json=responses(mcp(), mcp()))
        ftp = await client.post("/v1/responses", json=responses(mcp("ftp://mcp.example.com/")))
    assert connector.status_code == 400 and error_of(connector)["code"] == "unsupported_tool_type"
    assert error_of(connector)["param"] == "tools[0].connector_id" and "connectors" in error_of(connector)["message"]
    assert odd.status_code == 400 and error_of(odd)["param"] == "tools[0].server_label"
    assert reserved.status_code == 400 and error_of(reserved)["param"] == "tools[0].server_label"
    assert twice.status_code == 400 and "share the label 'remote'" in error_of(twice)["message"]
    assert ftp.status_code == 400 and error_of(ftp)["param"] == "tools[0].server_url"
    assert engine.turns == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/mcp",
        "https://localhost:8443/mcp",  # a name that resolves to loopback
        "https://[::1]/mcp",
        "https://169.254.169.254/latest",  # link-local: a cloud's metadata service
        "https://10.1.2.3/mcp",
        "https://192.168.0.10/mcp",
        "https://[::ffff:127.0.0.1]/mcp",
        "https://0.0.0.0/mcp",
    ],
)
async def test_loopback_link_local_and_private_addresses_are_refused(url):
    client, engine = make_client()
    async with client:
        answer = await client.post("/v1/responses", json=responses(mcp(url)))
    assert answer.status_code == 403, answer.text
    error = error_of(answer)
    assert (error["code"], error["param"]) == ("mcp_url_not_allowed", "tools[0].server_url")
    assert "GATEWAY_ALLOW_PRIVATE_URLS" in error["message"]
    assert engine.turns == []


async def test_keyless_mode_allows_https_only_and_the_operator_may_allow_private_addresses():
    client, engine = make_client()
    async with client:
        plain = await client.post("/v1/responses", json=responses(mcp("http://mcp.example.com/mcp")))
    assert plain.status_code == 403 and "only https" in error_of(plain)["message"]
    client, engine = make_client(allow_private_urls=True, mcp_urls="http://127.0.0.1:9/")
    async with client:
        allowed = await client.post("/v1/responses", json=responses(mcp("http://127.0.0.1:9/mcp")))
        outside = await client.post("/v1/responses", json=responses(mcp("http://127.0.0.1:10/mcp")))
    assert allowed.status_code == 200, allowed.text
    (server,) = engine.turns[0].hosted.mcp
    assert server.addresses == ("127.0.0.1",) and server.transport == "http"
    assert engine.turns[0].hosted.names == ("mcp",)
    assert outside.status_code == 403 and "mcp_urls" in error_of(outside)["message"]


async def test_a_keys_mcp_urls_allow_list(tmp_path):
    client, engine = make_client(admin_key=ADMIN_KEY, data_dir=str(tmp_path), allow_private_urls=True)
    async with client:
        policy = {"name": "k", "hosted_tools": ["mcp"], "mcp_urls": ["http://127.0.0.1:9/tools"]}
        made = await client.post("/admin/keys", json=policy, headers=ADMIN)
        assert made.status_code == 201, made.text
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        inside = await client.post("/v1/responses", json=responses(mcp("http://127.0.0.1:9/tools/mcp")), headers=key)
        for url in ("http://127.0.0.1:9/other", "http://127.0.0.1:9/toolsx", "http://127.0.0.1:9@evil.example/tools"):
            outside = await client.post("/v1/responses", json=responses(mcp(url)), headers=key)
            assert outside.status_code == 403 and error_of(outside)["code"] == "mcp_url_not_allowed", outside.text
    assert inside.status_code == 200, inside.text
    assert len(engine.turns) == 1


async def test_headers_reach_the_engine_but_never_a_response():
    client, engine = make_client(allow_private_urls=True, mcp_urls="http://127.0.0.1:9/")
    engine.script = [
        ToolList("remote", [{"name": "facts", "description": "d", "inputSchema": {"type": "object"}}]),
        ToolUse("toolu_1", "mcp__remote__facts", {"topic": "sky"}, "remote", hosted="mcp"),
        ToolResult("toolu_1", "mcp__remote__facts", "blue", server="remote", hosted="mcp"),
        TextDelta("done"),
        Finish("stop"),
    ]
    tool = mcp("http://127.0.0.1:9/sse", headers={"Authorization": "Bearer s3cret"}, authorization="tok3n")
    async with client:
        answer = await client.post("/v1/responses", json=responses(tool))
        stored = await client.get(f"/v1/responses/{answer.json()['id']}")
    assert answer.status_code == 200, answer.text
    (server,) = engine.turns[0].hosted.mcp
    assert dict(server.headers) == {"Authorization": "Bearer tok3n"}  # the access token wins
    assert server.transport == "sse" and "s3cret" not in repr(server)
    for text in (answer.text, stored.text):
        assert "s3cret" not in text and "tok3n" not in text
    output = answer.json()["output"]
    assert [item["type"] for item in output] == ["mcp_list_tools", "mcp_call", "message"]
    assert output[0]["tools"] == [
        {"name": "facts", "description": "d", "input_schema": {"type": "object"}, "annotations": None}
    ]
    assert output[1]["output"] == "blue" and output[1]["server_label"] == "remote"


async def test_remote_servers_are_not_served_in_agent_mode():
    client, engine = make_client(agent_mode=True, agent_sandbox=False, allow_private_urls=True)
    async with client:
        answer = await client.post("/v1/responses", json=responses(mcp(), claude_code={}))
    assert answer.status_code == 400 and "claude_code.mcp_servers" in error_of(answer)["message"]


def messages(*servers: dict) -> dict:
    return {
        "model": "sonnet",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "mcp_servers": list(servers),
    }


async def test_anthropic_mcp_servers_are_checked_alike_in_anthropics_envelope():
    client, engine = make_client()
    server = {"type": "url", "url": "https://127.0.0.1/mcp", "name": "remote", "authorization_token": "tok3n"}
    async with client:
        loopback = await client.post("/v1/messages", json=messages(server))
        odd = await client.post("/v1/messages", json=messages({**server, "name": "a b"}))
    assert loopback.status_code == 403 and loopback.json()["type"] == "error", loopback.text
    assert loopback.json()["error"]["type"] == "permission_error"
    assert "mcp_servers[0].url" in loopback.json()["error"]["message"] and "tok3n" not in loopback.text
    assert odd.status_code == 400 and "mcp_servers[0].name" in odd.json()["error"]["message"]
    assert engine.turns == []


async def test_remote_servers_are_not_taken_in_batches():
    client, engine = make_client()
    line = {"custom_id": "a", "params": messages({"type": "url", "url": "https://x.example/mcp", "name": "x"})}
    async with client:
        answer = await client.post("/v1/messages/batches", json={"requests": [line]})
    assert answer.status_code == 400 and "not available in batches" in answer.text, answer.text
