"""A conversation forked from another (POST /v1/sessions/{id}/fork): the fork gets a copy of the
source's Claude Code transcripts in its own folder, and its first process resumes the source's
session with the SDK's `fork_session`, which branches it off as a new session. From there the two
go on independently: each writes only its own transcript. A source with no transcript (nothing
served yet, or a failed turn) leaves the fork to rebuild from the history its session carries.

An agent session's workspace is copied by the caller into the fork's workspace first (symlinks
as links, never followed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...core.disk.workdir import private_folder
from ..transcripts.local import latest_session, project_dir
from .conversation import Conversation
from .router import TurnRouter


def fork(
    router: TurnRouter, source_id: str, target_id: str, workspace: Path | None, source_workspace: Path | None
) -> None:
    """Make conversation `target_id` a fork of `source_id`: one the router knows, or, after a
    restart, an agent session whose workspace `source_workspace` still holds its transcripts
    (which ran under the operator's credential, as far as the engine can tell)."""
    router.end(target_id)
    source = router.all.get(source_id)
    if source is not None:
        source_cwd, source_config, session = source.cwd, source.config_dir, source.claude_session
        credential, agent = source.credential, source.own_config
    elif source_workspace is not None:
        source_cwd, source_config = source_workspace, router.options.agent_config_dir(source_workspace)
        session, credential, agent = latest_session(source_config, source_cwd), None, True
    else:
        return  # nothing of it lives on: the fork starts from its session's history
    cwd = workspace or router.work.new_folder()
    config_dir = router.options.agent_config_dir(cwd) if agent else router.options.config_dir(credential)
    target = Conversation(target_id, cwd, config_dir, credential, workspace=workspace is not None, own_config=agent)
    transcripts = project_dir(source_config, source_cwd)
    if session is not None and (transcripts / f"{session}.jsonl").is_file():
        copy = project_dir(config_dir, cwd)
        private_folder(copy.parent)
        shutil.copytree(transcripts, copy, symlinks=True, dirs_exist_ok=True)
        if source is not None:
            target.key, target.holds = source.key, source.holds
        target.claude_session, target.fork_pending = session, True
    router.all[target.id] = target
