"""What a Claude Code process is started with: the spawn key of a turn, and the SDK options built
from it, with the process's working folder and system prompt file.

Chat mode for every process the engine starts (conversations, spares, the model probe): no
built-in tools, no host settings or CLAUDE.md, and no MCP server but the client's functions, each
in Claude's view from the first step unless the client defers it (TOOL_SEARCH_VARIABLE). Leaving
out setting sources does not skip the host's MCP servers by the CLI's own help (user and project
config, claude.ai connectors of a subscription login, plugins); --strict-mcp-config does.
Where the credential is a key and no built-in tool is needed, in Claude Code's bare mode, so that
Claude sees the client's text and nothing of the gateway's host (folders.py BARE_VARIABLE).

A turn with the caller's own credential runs on a process of that credential alone: the credential
is part of the spawn key (spares included), and the process gets that credential, a Claude config
folder of its own (so not the operator's `claude login`, and transcripts apart), and none of the
operator's credential variables (core/credentials.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import ClaudeAgentOptions
from claude_agent_sdk.types import SessionStore

from ...core.agent import AgentConfig
from ...core.credentials import Credential
from ...core.disk.workdir import GatewayFolder, write_private
from ...core.hosted import Hosted
from ...core.messages import ToolSpec
from ...core.settings import Settings
from ...core.turn import Turn
from ..agent import sandbox
from ..agent.prompts import PermissionPrompts
from ..agent.setup import mcp_config_file, sdk_options, share_login
from ..wrapper_script import NICE_VARIABLE, SPARE_NICE
from .folders import BARE_VARIABLE, PARAGRAPH_BREAK, ProcessFolders
from .mcp_proxy import McpProxy
from .remote import remote_config
from .tools import SERVER, TOOL_SEARCH, ToolBridge
from .web_gate import WebGate, web_setup

log = logging.getLogger(__name__)

MIN_LINE_BUFFER = 16 * 1024 * 1024
HOLD_MARGIN = 60.0  # seconds the CLI waits for a held call beyond the gateway's own hold
# Claude Code's tool search, measured with CLI 2.1.329: by default it is on wherever there are MCP
# tools (the client's functions are), and every request then carries a `DeferredToolPlaceholder`
# tool beside the functions; "false" leaves the functions exactly as the client sent them. "true",
# with its ToolSearch tool, defers each function not listed to be always loaded (processes/tools.py):
# Claude sees its name only, and ToolSearch ("select:<name>" or keywords) loads it for the next step.
TOOL_SEARCH_VARIABLE = "ENABLE_TOOL_SEARCH"


@dataclass(frozen=True)
class SpawnKey:
    """What a process is started with and cannot change afterwards."""

    model: str | None
    system: str | None
    max_output_tokens: int | None
    effort: str | None = None
    output_schema: str | None = None  # JSON text of the schema (hashable)
    tools: tuple[ToolSpec, ...] = ()  # the client's functions, as in-process MCP tools
    thinking: str | None = None  # JSON text of the thinking config
    credential: Credential | None = None  # the caller's own; None: the operator's
    agent: AgentConfig | None = None  # agent mode (core/agent.py); None: chat mode
    hosted: Hosted = Hosted()  # the hosted tools Claude Code serves (core/hosted.py), remote MCP servers too

    def for_spares(self) -> SpawnKey:
        """The key spares are kept under: the model is not part of it (set at run time); the
        credential is, so that a spare never serves another credential's turn."""
        return replace(self, model=None)

    @classmethod
    def of(cls, turn: Turn) -> SpawnKey:
        return cls(
            turn.model,
            turn.system,
            turn.max_output_tokens,
            turn.effort,
            json.dumps(turn.output_schema, sort_keys=True) if turn.output_schema else None,
            turn.tools,
            json.dumps(turn.thinking, sort_keys=True) if turn.thinking else None,
            turn.credential,
            turn.agent,
            turn.hosted,
        )


@dataclass
class Spawn:
    """Everything a new process needs: its SDK options and the bridge to the client's functions."""

    options: ClaudeAgentOptions
    bridge: ToolBridge | None = None
    gate: WebGate | None = None  # the hosted web tools' rules (web_gate.py)
    on_exit: list[Callable[[], None]] = field(default_factory=list)  # once its process has exited
    prompts: PermissionPrompts | None = None  # agent mode's permission prompts (engine/agent/prompts.py)


class SpawnOptions(ProcessFolders):
    def __init__(self, settings: Settings, work: GatewayFolder | None = None) -> None:
        super().__init__(settings, work)
        self.cli_path = settings.cli_path or None  # the launcher, once the engine has written it
        self.sandbox = sandbox.AgentSandbox(settings, work)
        self.proxy = McpProxy()  # remote MCP servers, reached through it

    def for_key(
        self,
        key: SpawnKey,
        cwd: Path,
        resume: str | None,
        spare: bool = False,
        fork: bool = False,
        mirror: SessionStore | None = None,
    ) -> Spawn:
        """A process for `key` in `cwd`, resuming Claude Code's session `resume` (as a new session
        branching off it with `fork`); an agent process's transcript also goes to `mirror`
        (engine/transcripts/replicated.py)."""
        env = self.cli_env(key.credential)
        if spare:  # starts at a lower priority than live turns (engine/wrapper_script.py)
            env[NICE_VARIABLE] = str(SPARE_NICE)
        if key.max_output_tokens:
            env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(key.max_output_tokens)
        if key.tools:
            # A call of the client's functions waits for the client's next request. Claude Code gives
            # up on an MCP call after MCP_TOOL_TIMEOUT and goes on without the result (measured: it
            # tells Claude the call "timed out"), so it must outlast the gateway's own hold, which
            # ends after GATEWAY_PROCESS_IDLE_TIMEOUT. Set here, it also wins over the environment's.
            env["MCP_TOOL_TIMEOUT"] = str(int((self.settings.process_idle_timeout + HOLD_MARGIN) * 1000))
        # Remote MCP servers (remote.py): a call that waits for approval is answered through the bridge.
        approvals = any(server.asks_approval for server in key.hosted.mcp)
        approvals = approvals or (key.agent is not None and key.agent.permission_prompts)  # engine/agent/prompts.py
        bridge = ToolBridge(key.tools) if key.tools or approvals else None
        web = key.hosted.claude_tools
        gate, hooks, settings = web_setup(key.hosted, self.settings.allow_private_urls)
        if key.agent is not None:
            # The hosted tools asked for are on for the turn, as in chat mode, held by both hooks.
            tools, allowed = (
                tuple(dict.fromkeys([*names, *web])) for names in (key.agent.tools, key.agent.allowed_tools)
            )
            agent = replace(key.agent, tools=tools, allowed_tools=allowed)
            options, prompts = self._agent(key, agent, cwd, env, resume, bridge, fork, mirror)
            for event, matchers in hooks.items():
                options.hooks = options.hooks or {}
                options.hooks.setdefault(event, []).extend(matchers)  # type: ignore[arg-type]
            options.settings = settings
            return Spawn(options, bridge, gate, prompts=prompts)
        # From a file, not the command line: argv is size-limited (128 KiB an argument) and
        # readable by every local user through ps.
        prompt_file = self._prompt_file(cwd)
        prompt_file.unlink(missing_ok=True)  # an earlier process's (resumed conversations); read at its start
        write_private(prompt_file, key.system or "")
        searching = any(spec.deferred for spec in key.tools)
        env[TOOL_SEARCH_VARIABLE] = "true" if searching else "false"
        built_in = [*web, *([TOOL_SEARCH] if searching else [])]
        one_paragraph = not any(PARAGRAPH_BREAK.search(spec.description) for spec in key.tools)
        if not built_in and not key.hosted.mcp and one_paragraph and self.bare_mode(key.credential):
            env[BARE_VARIABLE] = "1"  # Claude sees the client's text only (folders.py)
        on_exit: list[Callable[[], None]] = []
        wait = self.settings.process_idle_timeout + HOLD_MARGIN
        remote_allowed, extra_args = remote_config(self.proxy, self.work, key.hosted.mcp, bridge, wait, hooks, on_exit)
        options = self.isolated(
            cwd,
            env,
            tools=built_in,
            allowed_tools=[*(bridge.allowed if bridge else []), *built_in, *remote_allowed],
            hooks=hooks or None,
            settings=settings,
            mcp_servers={SERVER: bridge.server} if bridge and key.tools else {},
            extra_args=extra_args,
            system_prompt={"type": "file", "path": str(prompt_file)},
            model=key.model,
            resume=resume,
            fork_session=fork,
            include_partial_messages=True,
            effort=key.effort,
            output_format={"type": "json_schema", "schema": json.loads(key.output_schema)}
            if key.output_schema
            else None,
            thinking=json.loads(key.thinking) if key.thinking else None,
        )
        return Spawn(options, bridge, gate, on_exit)

    def _agent(
        self,
        key: SpawnKey,
        agent: AgentConfig,
        cwd: Path,
        env: dict[str, str],
        resume: str | None,
        bridge: ToolBridge | None,
        fork: bool = False,
        mirror: SessionStore | None = None,
    ) -> tuple[ClaudeAgentOptions, PermissionPrompts | None]:
        """Agent mode's options (engine/agent/setup.py), the process sandboxed (engine/agent/sandbox.py),
        and its permission prompts (engine/agent/prompts.py), if it asks the client."""
        config_dir = self.agent_config_dir(cwd)
        env["CLAUDE_CONFIG_DIR"] = str(config_dir)
        env["CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"] = "1"  # commands never see the Claude credential
        # A request waits for its whole answer: a subagent (CLI 2.1.329 runs them in the background
        # by default) or a command left running in the background would end the turn with "Async
        # agent launched", then call Claude again on its own once done, with no client listening.
        env["CLAUDE_CODE_DISABLE_BACKGROUND_TASKS"] = "1"
        if key.credential is None:
            share_login(self.settings.config_dir, config_dir)
        if self.settings.agent_sandbox:
            env.update(self.sandbox.env(cwd, config_dir, agent.servers))
        wait = self.settings.process_idle_timeout + HOLD_MARGIN  # as long as the gateway holds a turn
        options: dict[str, Any] = sdk_options(agent, cwd, key.system, bridge.wait if bridge else None, wait)
        prompts = options.pop("permission_prompts")
        # Claude Code's own folder (the login's copy, transcripts, the MCP servers' file): out of
        # reach of its file tools, and of its commands (its sandbox's denyRead).
        options["disallowed_tools"].append(f"Read(/{config_dir}/**)")
        options["sandbox"]["filesystem"] = {"denyRead": [str(config_dir)]}
        servers = options.pop("mcp_servers")
        if self.settings.agent_sandbox:  # each stdio server in a PID namespace of its own (engine/agent/sandbox.py)
            servers = sandbox.own_pids(servers, sandbox.bubblewrap() or "bwrap")
        options["extra_args"] = mcp_config_file(config_dir, servers)
        options["mcp_servers"] = {SERVER: bridge.server} if bridge is not None and key.tools else {}
        if bridge is not None:
            options["allowed_tools"] += bridge.allowed
        return ClaudeAgentOptions(
            setting_sources=[],
            strict_mcp_config=True,
            cwd=str(cwd),
            cli_path=self.cli_path,
            env=env,
            max_buffer_size=max(MIN_LINE_BUFFER, 2 * self.settings.max_body_bytes),
            model=key.model,
            resume=resume,
            fork_session=fork,
            session_store=mirror,
            include_partial_messages=True,
            thinking=json.loads(key.thinking) if key.thinking else None,
            **options,
            effort=cast(Any, key.effort),
            output_format={"type": "json_schema", "schema": json.loads(key.output_schema)}
            if key.output_schema
            else None,
        ), prompts

    def isolated(self, cwd: Path, env: dict[str, str] | None = None, **options: Any) -> ClaudeAgentOptions:
        """Chat-mode options (see the module docstring), plus `options`."""
        tools = options.pop("tools", None) or []
        return ClaudeAgentOptions(
            tools=tools,
            setting_sources=[],
            strict_mcp_config=True,
            cwd=str(cwd),
            cli_path=self.cli_path,
            env=self.cli_env() if env is None else env,
            # The CLI writes a whole message on one line, a client's function result or image
            # included (the SDK reads at most 1 MB a line by default): room for a whole request.
            max_buffer_size=max(MIN_LINE_BUFFER, 2 * self.settings.max_body_bytes),
            **options,
        )
