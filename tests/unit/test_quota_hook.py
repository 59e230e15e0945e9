"""The PostToolUse hook that stops Claude Code's own turn once its tools took the key's workspaces
past their quota (app/engine/agent/quota_hook.py): before the next step runs, not only when the gateway
reads the tool's result."""

from __future__ import annotations

import asyncio

from app.core.agent import AgentConfig
from app.engine.agent.quota_hook import QuotaHook
from app.engine.agent.setup import sdk_options


def test_the_hook_stops_the_turn_past_the_quota_only(tmp_path):
    tenant = tmp_path / "tenant"
    (tenant / "ws1" / "deep").mkdir(parents=True)
    (tenant / "ws2").mkdir()
    (tenant / "ws1" / "deep" / "a.bin").write_bytes(b"x" * 600)
    (tenant / "ws2" / "b.bin").write_bytes(b"x" * 400)
    assert asyncio.run(QuotaHook(tenant, 1000).hook({}, None, None)) == {}
    stopped = asyncio.run(QuotaHook(tenant, 999).hook({}, None, None))
    assert stopped["continue_"] is False and "1000 bytes" in stopped["stopReason"]


def test_an_agent_config_with_a_quota_measures_the_tenants_folder(tmp_path):
    workspace = tmp_path / "tenant" / "ws"
    assert "PostToolUse" not in sdk_options(AgentConfig(), workspace, None)["hooks"]
    hooks = sdk_options(AgentConfig(workspace_quota=5), workspace, None)["hooks"]["PostToolUse"]
    hook = hooks[0].hooks[0].__self__
    assert (hook.tenant_folder, hook.quota) == (tmp_path / "tenant", 5)
