"""What a chat-mode process is given for the request's remote MCP servers (core/hosted.py): their
MCP config, naming the proxy's routes (mcp_proxy.py), and the approval hook (approvals.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, cast

from claude_agent_sdk import HookMatcher
from claude_agent_sdk.types import HookCallback

from ...core.disk.workdir import GatewayFolder, private_folder, write_private
from ...core.hosted import RemoteServer
from .approvals import ApprovalGate
from .mcp_proxy import McpProxy
from .tools import ToolBridge

CONFIG_FOLDER = "mcp"  # in the gateway's private work folder


def remote_config(
    proxy: McpProxy,
    work: GatewayFolder | None,
    servers: tuple[RemoteServer, ...],
    bridge: ToolBridge | None,
    wait: float,
    hooks: dict[Any, list[HookMatcher]],
    on_exit: list[Callable[[], None]],
) -> tuple[list[str], dict[str, str | None]]:
    """The rules that let Claude call the servers' tools without a prompt (all of a server's,
    `mcp__<label>`: the proxy keeps the tools the request does not allow from Claude), and the
    `extra_args` naming their MCP config: each server a route of the proxy, in a file of the
    gateway's private work folder (a route's token is a capability; the command line is readable
    by every local user). The approval hook goes into `hooks` (PreToolUse) where a call may wait for
    it (for `wait` s: as long as the gateway holds a turn; a hook gives up after the CLI's 60 s by
    default); `on_exit` gets what to undo once the process has exited."""
    if not servers:
        return [], {}
    if work is None or work.path is None:
        raise RuntimeError("the gateway's work folder is not open")
    if bridge is not None and any(server.asks_approval for server in servers):
        gate = ApprovalGate(servers, bridge)
        matcher = HookMatcher(matcher=None, hooks=[cast(HookCallback, gate.hook)], timeout=wait)
        hooks.setdefault("PreToolUse", []).append(matcher)
    config: dict[str, dict[str, Any]] = {}
    for server in servers:
        route = proxy.route(server)
        on_exit.append(lambda route=route: proxy.release(route))  # type: ignore[misc]
        config[server.label] = {"type": server.transport, "url": proxy.local_url(route)}
    folder = work.path / CONFIG_FOLDER
    private_folder(folder)
    path = folder / f"{uuid.uuid4().hex}.json"
    write_private(path, json.dumps({"mcpServers": config}))
    on_exit.append(lambda: path.unlink(missing_ok=True))
    return [server.prefix.removesuffix("__") for server in servers], {"mcp-config": str(path)}
