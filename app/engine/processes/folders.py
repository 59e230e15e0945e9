"""The folders and environment of a Claude Code process: the Claude config folder of a credential
(the operator's, or one of the caller's own credential) or of an agent workspace, where a chat
process's system prompt file goes, and the environment that hands a process its credential.
SpawnOptions (options.py) builds on them; the engine's turns find transcripts with them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ...core.credentials import Credential, operator_variables
from ...core.disk.workdir import GatewayFolder, private_folder
from ...core.settings import Settings
from ..wrapper_script import UNSET_VARIABLE

SYSTEM_PROMPT_FILE = ".system-prompt"
CREDENTIALS_FOLDER = "credentials"  # in the gateway's work folder: a Claude config folder per credential
AGENT_CONFIGS = "agent-config"  # in the data folder: a Claude config folder per agent workspace


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
        to unset."""
        env = dict(self.settings.cli_env)
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
