"""Earlier turns of a conversation, handed to Claude Code as real turns.

Claude Code resumes a conversation from its transcript file,
`<config dir>/projects/<cwd with every non-alphanumeric character as '-'>/<session id>.jsonl`.
A transcript of plain `user` and `assistant` lines that we write ourselves is resumed like one the
CLI wrote, so the model receives the history as alternating user/assistant messages
(tests/e2e checks this against the pinned CLI). If a CLI version refuses the file, the engine falls
back to `inline_history`, a single-text rendition, and logs that it did.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...core.disk.workdir import private_folder, write_private
from ...core.messages import Block, Message
from ..processes.tools import claude_name
from ..sdk_private import BUNDLED_CLI_VERSION

CONTINUE_AFTER_TOOLS = "(The function results are above; continue.)"
_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]")


def project_dir(config_dir: Path, cwd: Path) -> Path:
    """Where the CLI keeps transcripts of conversations run in `cwd`."""
    name = _NON_ALNUM.sub("-", str(cwd))
    if len(name) > 200:  # the CLI hashes longer names; our working folders stay short
        raise ValueError(f"working folder path too long for a transcript name: {cwd}")
    return config_dir / "projects" / name


def write_transcript(config_dir: Path, cwd: Path, history: list[Message]) -> str:
    """Write `history` as a transcript the CLI can `--resume`; returns its session id."""
    session_id = str(uuid.uuid4())
    folder = project_dir(config_dir, cwd)
    private_folder(folder)
    parent: str | None = None
    lines = []
    for message in history:
        line_id = str(uuid.uuid4())
        lines.append(
            {
                "parentUuid": parent,
                "isSidechain": False,
                "userType": "external",
                "cwd": str(cwd),
                "sessionId": session_id,
                "version": BUNDLED_CLI_VERSION,
                "type": message.role,
                "message": _wire_message(message),
                "uuid": line_id,
                "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            }
        )
        parent = line_id
    write_private(
        folder / f"{session_id}.jsonl", "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    )
    return session_id


def latest_session(config_dir: Path, cwd: Path) -> str | None:
    """The session Claude Code wrote last for `cwd` (an agent workspace's, after a restart)."""
    folder = project_dir(config_dir, cwd)
    transcripts = sorted(folder.glob("*.jsonl"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
    return transcripts[-1].stem if transcripts else None


def remove_transcripts(config_dir: Path, cwd: Path) -> None:
    """Forget every transcript of conversations run in `cwd`."""
    shutil.rmtree(project_dir(config_dir, cwd), ignore_errors=True)


def remove_transcripts_under(config_dir: Path, folder: Path) -> None:
    """Forget the transcripts of every conversation run in a folder inside `folder`.

    The gateway's own folder names all have the same length, so the name of one is never the
    beginning of another's.
    """
    prefix = _NON_ALNUM.sub("-", str(folder)) + "-"
    projects = config_dir / "projects"
    if projects.is_dir():
        for entry in projects.iterdir():
            if entry.name.startswith(prefix):
                shutil.rmtree(entry, ignore_errors=True)


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "user":
        return {"role": "user", "content": message.content}
    uses_tools = any(block.get("type") == "tool_use" for block in message.content)
    return {
        "id": f"msg_gw_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": "<gateway-history>",
        "content": message.content,
        "stop_reason": "tool_use" if uses_tools else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def resumable(history: list[Message], prompt: Message, tools_offered: bool) -> tuple[list[Message], Message]:
    """The history to write as a transcript and the message to send after it, for a conversation
    rebuilt from its history.

    - The client's functions take the names Claude knows them by.
    - Without functions on offer (tool_choice "none"), earlier calls and results become text:
      Anthropic's API refuses tool_use and tool_result blocks in a request that defines no tools.
    - A resumed transcript that ends with an unanswered tool_use is "repaired" by the CLI with an
      interrupted-call error, and results sent after it are lost; so results go into the
      transcript, and the rest of the prompt (or a short message) goes on. The CLI then puts an
      assistant "No response requested." between them: it answers any transcript that ends with a
      user message that way (measured with CLI 2.1.329; no line shape or setting we tried avoids it).
    """
    if not tools_offered:
        history = [Message(m.role, _calls_as_text(m.content)) for m in history]
        prompt = Message(prompt.role, _calls_as_text(prompt.content))
    results = [b for b in prompt.content if b.get("type") == "tool_result"]
    if results:
        rest = [b for b in prompt.content if b.get("type") != "tool_result"]
        history = [*history, Message("user", results)]
        prompt = Message("user", rest or [{"type": "text", "text": CONTINUE_AFTER_TOOLS}])
    named = [
        Message(
            m.role, [{**b, "name": claude_name(b["name"])} if b.get("type") == "tool_use" else b for b in m.content]
        )
        for m in history
    ]
    return named, prompt


def inline_history(history: list[Message], prompt: Message) -> Message:
    """The fallback: earlier turns as one tagged text in front of the new user message."""
    parts = ["<conversation_history>"]
    for message in history:
        parts.append(f"<{message.role}>\n{_block_text(message.content)}\n</{message.role}>")
    parts.append("</conversation_history>\n\nContinue the conversation. The user's new message:")
    return Message("user", [{"type": "text", "text": "\n".join(parts)}, *prompt.content])


def _calls_as_text(blocks: list[Block]) -> list[Block]:
    return [
        {"type": "text", "text": _block_text([b])} if b.get("type") in ("tool_use", "tool_result") else b
        for b in blocks
    ]


def _block_text(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            out.append(block["text"])
        elif kind == "image":
            out.append("[image]")
        elif kind == "tool_use":
            out.append(f"[called {block['name']} with {json.dumps(block.get('input', {}))}]")
        elif kind == "tool_result":
            content = block.get("content")
            text = content if isinstance(content, str) else _block_text(content or [])
            out.append(f"[result of {block.get('tool_use_id')}: {text}]")
    return "\n".join(out)
