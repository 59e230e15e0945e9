"""Remote MCP servers' rules, read without a turn: which calls wait for approval (the Responses
API's `require_approval` forms), what an approval says, which addresses count as public, and how a
request's headers and token are sent."""

from __future__ import annotations

import json

import pytest

from app.core.hosted import Hosted, RemoteServer, needs_approval
from app.dialects.openai_responses import wire as orq
from app.dialects.openai_responses.mcp_items import remote_servers
from app.dialects.remote_mcp import bearer, transport
from app.doors.remote_mcp import public
from app.engine.processes.approvals import decision


def server(require_approval: object = None, **extra) -> RemoteServer:
    tool = {"type": "mcp", "server_label": "s", "server_url": "https://mcp.example.com/mcp", **extra}
    if require_approval is not None:
        tool["require_approval"] = require_approval
    (found,) = remote_servers([orq.McpTool.model_validate(tool)])
    return found


@pytest.mark.parametrize(
    "require_approval, waits",
    [
        (None, {"a": True, "b": True}),  # OpenAI's default: always
        ("always", {"a": True, "b": True}),
        ("never", {"a": False, "b": False}),
        ({"never": {"tool_names": ["a"]}}, {"a": False, "b": True}),
        ({"always": {"tool_names": ["a"]}}, {"a": True, "b": True}),
        ({"always": {"tool_names": ["a"]}, "never": {"tool_names": ["b"]}}, {"a": True, "b": False}),
    ],
)
def test_which_calls_wait_for_approval(require_approval, waits):
    remote = (server(require_approval),)
    assert {tool: needs_approval(remote, f"mcp__s__{tool}") for tool in waits} == waits
    assert not needs_approval(remote, "mcp__other__a") and not needs_approval(remote, "Bash")


def test_a_server_is_named_mcp_in_the_key_policy_and_its_headers_stay_out_of_its_repr():
    remote = server("never", headers={"X-Api-Key": "k3y"}, authorization="tok3n", allowed_tools=["a"])
    assert Hosted(mcp=(remote,)).names == ("mcp",)
    assert dict(remote.headers) == {"X-Api-Key": "k3y", "Authorization": "Bearer tok3n"}
    assert "k3y" not in repr(remote) and "tok3n" not in repr(remote)
    assert remote.allows("a") and not remote.allows("b")
    assert hash(remote) == hash(
        server("never", headers={"X-Api-Key": "k3y"}, authorization="tok3n", allowed_tools=["a"])
    )


def test_the_token_replaces_an_authorization_header_of_any_case():
    assert bearer("t", {"authorization": "Basic x", "X-A": "1"}) == (("X-A", "1"), ("Authorization", "Bearer t"))
    assert bearer(None, {"authorization": "Basic x"}) == (("authorization", "Basic x"),)


def test_the_transport_follows_the_urls_path():
    assert transport("https://mcp.example.com/sse") == "sse"
    assert transport("https://mcp.example.com/v1/sse/") == "sse"
    assert transport("https://mcp.example.com/mcp") == "http"
    assert transport("https://sse.example.com/mcp?x=/sse") == "http"


@pytest.mark.parametrize(
    "address, is_public",
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_public_addresses(address, is_public):
    assert public(address) is is_public


@pytest.mark.parametrize(
    "content, answer",
    [
        (json.dumps({"approve": True, "reason": None}), (True, "")),
        (json.dumps({"approve": False, "reason": "not now"}), (False, "not now")),
        (json.dumps({"approve": "yes"}), (False, "")),  # only true approves
        ("approve", (False, "")),
        ([{"type": "text", "text": "{}"}], (False, "")),
    ],
)
def test_an_approval_is_true_or_it_is_none(content, answer):
    assert decision(content) == answer
