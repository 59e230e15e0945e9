"""The folders and environment of a Claude Code process: the Claude config folder of a credential
(the operator's, or one of the caller's own credential) or of an agent workspace, where a chat
process's system prompt file goes, and the environment that hands a process its credential.
SpawnOptions (options.py) builds on them; the engine's turns find transcripts with them.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ...core.credentials import Credential, detect, operator_variables
from ...core.disk.workdir import GatewayFolder, private_folder
from ...core.settings import Settings
from ..wrapper_script import UNSET_VARIABLE

SYSTEM_PROMPT_FILE = ".system-prompt"
CREDENTIALS_FOLDER = "credentials"  # in the gateway's work folder: a Claude config folder per credential
AGENT_CONFIGS = "agent-config"  # in the data folder: a Claude config folder per agent workspace
# Claude Code (2.1.329) names each new session with a model call of its own ("You are naming a coding
# session...", the user's first message): an upstream request, and tokens, no client asked for. This
# documented variable (or CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, which turns off far more) stops
# it; set for every process unless the operator set it.
NO_TITLE_VARIABLE = "CLAUDE_CODE_DISABLE_TERMINAL_TITLE"
# Claude Code's bare mode (what --bare sets): the only way (2.1.329) to leave out the `# Environment`
# message it adds to every request (working folder, platform, shell, OS version, model, date). It
# also reads no subscription login (OAuth: "Not logged in"), drops the built-in tools but Bash
# and Read (WebSearch, WebFetch, ToolSearch), and cuts an MCP tool's description (a client's
# function's) at its first blank line, so chat mode sets it only where none of that applies.
BARE_VARIABLE = "CLAUDE_CODE_SIMPLE"
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
BARE_SOURCES = {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"}


class ProcessFolders:
    def __init__(self, settings: Settings, work: GatewayFolder | None = None) -> None:
        self.settings = settings
        self.work = work  # where the config folders of callers' credentials go

    def _prompt_file(self, cwd: Path) -> Path:
        """Where a chat-mode process's system prompt goes: its folder, unless that is an agent
        session's workspace (a chat turn in an agent session), which is the client's own."""
        work = self.work.path if self.work is not None else None
        if work is None or work in cwd.parents:
            return cwd / SYSTEM_PROMPT_FILE
        folder = work / "prompts"
        private_folder(folder)
        return folder / hashlib.sha256(str(cwd).encode()).hexdigest()[:32]

    def agent_config_dir(self, workspace: Path) -> Path:
        """The Claude config folder of an agent conversation's processes: its own, next to the
        workspaces (so that its transcripts outlive a restart), never the operator's."""
        name = hashlib.sha256(str(workspace).encode()).hexdigest()[:32]
        folder = self.settings.data_path / AGENT_CONFIGS / name
        private_folder(folder.parent)
        private_folder(folder)
        return folder

    def cli_env(self, credential: Credential | None = None) -> dict[str, str]:
        """What a CLI process gets on top of the gateway's own environment: for the caller's own
        credential, that credential, its config folder, and each of the operator's credential
        variables emptied (the SDK cannot remove an inherited variable) and named for the launcher
        to unset. No process names its sessions with a model call (NO_TITLE_VARIABLE)."""
        env = dict(self.settings.cli_env)
        if NO_TITLE_VARIABLE not in os.environ and NO_TITLE_VARIABLE not in env:
            env[NO_TITLE_VARIABLE] = "1"
        if credential is None:
            if self.settings.claude_config_dir:
                env["CLAUDE_CONFIG_DIR"] = str(self.settings.config_dir)
            return env
        removed = operator_variables(os.environ, env)
        env = {name: value for name, value in env.items() if name not in removed}
        env.update({name: "" for name in removed})
        env.update(credential.env())
        env[UNSET_VARIABLE] = " ".join(name for name in removed if not env[name])
        env["CLAUDE_CONFIG_DIR"] = str(self.config_dir(credential))
        return env

    def bare_mode(self, credential: Credential | None) -> bool:
        """Whether a chat process with this credential may run in bare mode (BARE_VARIABLE): a key,
        not a subscription login, and the operator left the variable to the gateway."""
        operator = {**os.environ, **self.settings.cli_env}
        if BARE_VARIABLE in operator:
            return False
        if credential is not None:
            return credential.type == "api_key"
        return detect(self.settings.config_dir, operator)["source"] in BARE_SOURCES

    def config_dir(self, credential: Credential | None) -> Path:
        """The Claude config folder (login, transcripts) of processes with this credential: the
        operator's, or one of the credential's own (0700) in the gateway's private work folder."""
        if credential is None:
            return self.settings.config_dir
        if self.work is None or self.work.path is None:
            raise RuntimeError("the gateway's work folder is not open")
        folder = self.work.path / CREDENTIALS_FOLDER / credential.id
        private_folder(folder)
        return folder
