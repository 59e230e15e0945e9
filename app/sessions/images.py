"""A stateless session keeps no image (or PDF) bytes: its client resends them, and Claude's transcript has
them. What it keeps instead is a short note of each image (registry.py)."""

from __future__ import annotations

from ..core.messages import Block, Message


def has_image_data(message: Message) -> bool:
    return any(_image_placeholder(block) != block for block in message.content)


def without_image_data(messages: list[Message]) -> list[Message]:
    return [Message(m.role, [_image_placeholder(b) for b in m.content]) for m in messages]


def _image_placeholder(block: Block) -> Block:
    """An image's bytes as a short note (a valid block, should it ever be sent); URLs are kept."""
    if block.get("type") in ("image", "document") and block.get("source", {}).get("type") == "base64":
        source = block["source"]
        size = len(source.get("data", "")) * 3 // 4
        kind = "image" if block["type"] == "image" else "document"  # a PDF: bytes like an image's
        return {"type": "text", "text": f"[{source.get('media_type', kind)} {kind} of {size} bytes, not kept]"}
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        return {**block, "content": [_image_placeholder(part) for part in block["content"]]}
    return block
