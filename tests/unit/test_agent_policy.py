"""A request's `claude_code` resolved under its key's agent policy (app/agent/policy.py): every cap
answers 403 naming its field, the key's defaults fill what the request leaves out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.agent.policy import AgentPolicy, operator_servers, resolve, url_allowed
from app.agent.request import ClaudeCodeRequest
from app.core.agent import DEFAULT_TOOLS
from app.core.errors import GatewayError
from app.core.settings import Settings
from app.doors.checks import agent_mode
from app.tenancy.auth import ANONYMOUS, Tenant
from app.tenancy.policy import Policy

PROBE = {"type": "stdio", "command": "/usr/bin/probe", "args": []}


@pytest.fixture
def settings(tmp_path) -> Settings:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"probe": PROBE, "other": PROBE}}))
    operator_servers.cache_clear()
    return Settings(_env_file=None, agent_mode=True, mcp_config=str(config))


def key(agent: dict[str, Any] | None = None, **policy: Any) -> Policy:
    return Policy(agent_mode=True, agent=AgentPolicy(**agent) if agent is not None else None, **policy)


def run(settings: Settings, request: dict[str, Any], key_policy: Policy | None = None, models=None):
    return resolve(ClaudeCodeRequest(**request), settings, key_policy, models)


def denied(settings: Settings, request: dict[str, Any], key_policy: Policy | None = None, models=None) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        run(settings, request, key_policy, models)
    return caught.value


def test_agent_mode_off_is_refused(settings):
    off = [(Settings(_env_file=None), ANONYMOUS), (settings, Tenant("key-x", policy=Policy(agent_mode=False)))]
    for gateway_settings, tenant in off:
        with pytest.raises(GatewayError) as caught:
            agent_mode(ClaudeCodeRequest(), gateway_settings, tenant, lambda name: name)
        error = caught.value
        assert (error.status, error.code, error.param) == (403, "agent_mode_not_allowed", "claude_code")


CAPS = [
    ({"tools": ["Read", "Bash"]}, {"tools": ["Read"]}, "tools"),
    ({"tools": ["Read"], "allowed_tools": ["Bash(git:*)"]}, {}, "allowed_tools"),
    ({"permission_mode": "bypassPermissions"}, {}, "permission_mode"),
    ({"permission_mode": "acceptEdits"}, {"permission_modes": ["default", "plan"]}, "permission_mode"),
    ({"max_turns": 11}, {"max_turns": 10}, "max_turns"),
    ({"max_budget_usd": 1.5}, {"max_budget_usd": 1}, "max_budget_usd"),
    ({"mcp_servers": ["elsewhere"]}, {}, "mcp_servers"),
    ({"mcp_servers": [{"name": "r", "type": "http", "url": "https://evil.net/mcp"}]}, {}, "mcp_servers"),
    ({"agents": {"reviewer": {"description": "d", "prompt": "p"}}}, {"agents": False}, "agents"),
    ({"add_dirs": ["../elsewhere"]}, {}, "add_dirs"),
    ({"add_dirs": ["src/../../elsewhere"]}, {}, "add_dirs"),
    ({"add_dirs": ["/etc"]}, {}, "add_dirs"),
    ({"add_dirs": [".."]}, {}, "add_dirs"),
    ({"permission_prompts": True}, {"permission_prompts": False}, "permission_prompts"),
    # A key held to modes without acceptEdits: approving calls would widen them.
    ({"permission_prompts": True}, {"permission_modes": ["default", "plan"]}, "permission_prompts"),
]


@pytest.mark.parametrize(("request_", "agent", "field"), CAPS)
def test_each_cap_is_a_403_naming_its_field(settings, request_, agent, field):
    error = denied(settings, request_, key(agent))
    assert (error.status, error.code, error.param) == (403, "agent_policy_denied", f"claude_code.{field}")
    assert error.message.startswith(f"claude_code.{field}: ")


def test_within_the_caps_is_allowed(settings):
    config = run(
        settings,
        {"tools": ["Read"], "permission_mode": "plan", "max_turns": 10, "max_budget_usd": 1, "add_dirs": ["src/a"]},
        key({"tools": ["Read", "Bash"], "permission_modes": ["plan"], "max_turns": 10, "max_budget_usd": 1}),
    )
    assert (config.tools, config.permission_mode, config.max_turns, config.max_budget_usd) == (("Read",), "plan", 10, 1)
    assert config.add_dirs == ("src/a",)


def test_bypass_permissions_needs_the_keys_leave(settings):
    config = run(settings, {"permission_mode": "bypassPermissions"}, key({"allow_bypass_permissions": True}))
    assert config.permission_mode == "bypassPermissions"


def test_a_keys_caps_are_its_limits_when_the_request_names_none(settings):
    config = run(settings, {}, key({"tools": ["Read", "Bash"], "max_turns": 4, "max_budget_usd": 0.5}))
    assert config.tools == ("Bash", "Read")  # the default set, as far as the key allows it
    assert (config.max_turns, config.max_budget_usd) == (4, 0.5)
    assert run(settings, {}).tools == DEFAULT_TOOLS


def test_defaults_fill_what_the_request_leaves_out(settings):
    defaults = {"tools": ["Read", "Write"], "permission_mode": "acceptEdits", "max_turns": 5, "disallowed_tools": ["X"]}
    policy = key({"defaults": defaults, "disallowed_tools": ["Bash(rm:*)"]})
    config = run(settings, {"max_turns": 3}, policy)
    assert (config.tools, config.permission_mode, config.max_turns) == (("Read", "Write"), "acceptEdits", 3)
    assert config.disallowed_tools == ("X", "Bash(rm:*)")
    config = run(settings, {"tools": ["Read"], "disallowed_tools": ["Y"], "permission_mode": "plan"}, policy)
    assert (config.tools, config.permission_mode, config.max_turns) == (("Read",), "plan", 5)
    assert config.disallowed_tools == ("Y", "Bash(rm:*)")  # the key's own always apply


def test_a_default_is_held_to_the_caps_too(settings):
    error = denied(settings, {}, key({"defaults": {"max_turns": 50}, "max_turns": 10}))
    assert error.param == "claude_code.max_turns"


def test_the_operators_mcp_servers_by_name(settings):
    config = run(settings, {"mcp_servers": ["probe"]})
    assert config.servers == {"probe": PROBE}
    assert run(settings, {"mcp_servers": ["probe"]}, key(mcp_servers=["probe"])).servers == {"probe": PROBE}
    error = denied(settings, {"mcp_servers": ["other"]}, key(mcp_servers=["probe"]))
    assert error.param == "claude_code.mcp_servers" and "other" in error.message


def test_a_keys_own_mcp_server_within_its_urls(settings):
    server = {"name": "remote", "type": "http", "url": "https://mcp.example.com/v1", "headers": {"X-Token": "t"}}
    config = run(settings, {"mcp_servers": [server]}, key({"mcp_urls": ["https://mcp.example.com"]}))
    assert config.servers == {"remote": {"type": "http", "url": server["url"], "headers": {"X-Token": "t"}}}


@pytest.mark.parametrize(
    "url",
    [
        "https://mcp.example.com.evil.net/",
        "https://mcp.example.com@evil.net/",
        "https://mcp.example.com:8443/",
        "http://mcp.example.com/",
        "https://mcp.example.com/../admin",
        "https://mcp.example.com/a/%2e%2E/b",
        "https://mcp.example.com\\@evil.net/",
        "https://user:pass@mcp.example.com/",
    ],
)
def test_a_url_that_only_starts_like_an_allowed_one_is_refused(settings, url):
    """A text prefix let each of these through (the first two reach another host)."""
    server = {"name": "remote", "type": "http", "url": url}
    error = denied(settings, {"mcp_servers": [server]}, key({"mcp_urls": ["https://mcp.example.com"]}))
    assert error.param == "claude_code.mcp_servers"


def test_url_prefixes_match_whole_path_segments():
    assert url_allowed("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8000/mcp")
    assert url_allowed("http://127.0.0.1:8000/mcp/x?y=1", "http://127.0.0.1:8000/mcp")
    assert url_allowed("https://MCP.example.com:443/mcp", "https://mcp.example.com/")
    assert not url_allowed("http://127.0.0.1:8000/mcpx", "http://127.0.0.1:8000/mcp")
    assert not url_allowed("http://127.0.0.1:80001/mcp", "http://127.0.0.1:8000/")
    assert not url_allowed("http://127.0.0.1:8000/mcp", "not a url")


def test_fallback_model_within_the_keys_models(settings):
    sonnet = ["sonnet"].__contains__
    error = denied(settings, {"fallback_model": "opus"}, key(), models=sonnet)
    assert error.param == "claude_code.fallback_model"
    assert run(settings, {"fallback_model": "sonnet"}, key(), models=sonnet).fallback_model == "sonnet"
    assert run(settings, {"fallback_model": "opus"}, key()).fallback_model == "opus"  # no model list: any


def test_the_workspace_itself_is_no_added_folder(settings):
    error = denied(settings, {"add_dirs": ["./"]})
    assert (error.status, error.param) == (400, "claude_code.add_dirs")


def test_a_bad_agent_policy_or_mcp_config_stops_the_start_not_a_request(tmp_path):
    from app.agent.policy import gateway_policy
    from app.http.app import create_app
    from tests.support import ScriptedEngine

    bad_json = tmp_path / "mcp.json"
    bad_json.write_text("{not json")
    for bad in ({"agent_policy": '{"max_turns": 0}'}, {"mcp_config": str(bad_json)}):
        gateway_policy.cache_clear()
        operator_servers.cache_clear()
        with pytest.raises(SystemExit):
            create_app(Settings(_env_file=None, data_dir=str(tmp_path / "data"), **bad), engine=ScriptedEngine())


def test_permission_prompts_are_off_unless_asked_and_the_key_may_ask(settings):
    assert not run(settings, {}).permission_prompts
    assert run(settings, {"permission_prompts": True}).permission_prompts  # keyless and static keys may
    asked = {"permission_prompts": True, "permission_mode": "acceptEdits"}
    assert run(settings, asked, key({"permission_modes": ["acceptEdits"]})).permission_prompts
    granted = key({"permission_modes": ["default"], "permission_prompts": True})
    assert run(settings, {"permission_prompts": True}, granted).permission_prompts
