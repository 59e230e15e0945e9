"""What the front doors' translators share."""

from __future__ import annotations

from ..engine.types import Block, Message

IMAGE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def append_message(messages: list[Message], role: str, blocks: list[Block]) -> None:
    """Add blocks, merging same-role neighbours: Claude wants strictly alternating turns."""
    if not blocks:
        return
    if messages and messages[-1].role == role:
        messages[-1].content.extend(blocks)
    else:
        messages.append(Message(role, list(blocks)))  # type: ignore[arg-type]


def forced_tool_instruction(forced: str) -> str:
    """Claude Code cannot force a tool call, so the system prompt asks for it ('' = any tool)."""
    return f"You must call the function `{forced}` now." if forced else "You must call one of the functions now."
