"""What the front doors' translators share: the rules for images and schemas, message merging."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from ..engine.types import Block, Message
from ..errors import GatewayError, invalid_request

IMAGE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# Claude Code takes an output schema only on its command line (--json-schema, no file form), where
# one argument may hold 128 KiB and every local user can read it in `ps`.
MAX_SCHEMA_BYTES = 64 * 1024
# The most output tokens Claude Code asks Claude for: it caps CLAUDE_CODE_MAX_OUTPUT_TOKENS there
# (measured with CLI 2.1.329: 200000 and 2**70 both reached the API as 128000, for every model).
MAX_OUTPUT_TOKENS = 128_000
# OpenAI's reasoning effort -> Claude's effort.
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh"}
_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+)?(?P<params>(;[^,;]*)*?);base64,(?P<data>.*)$", re.DOTALL)


def unsupported_parameter(name: str) -> GatewayError:
    """What strict mode answers to a parameter the gateway would ignore."""
    name = name if len(name) <= 200 else name[:200] + "..."  # the client's own field name: keep it short
    return invalid_request(
        f"'{name}' cannot be applied by Claude Code, and strict mode refuses what it would ignore. "
        "Leave it out, or send the request without X-Gateway-Strict.",
        name,
        "unsupported_parameter",
    )


def output_limit(requested: int | None) -> int | None:
    """The output token limit the turn gets: the client's, clamped to MAX_OUTPUT_TOKENS."""
    return None if requested is None else min(requested, MAX_OUTPUT_TOKENS)


def clamped_limits(**limits: int | None) -> list[str]:
    """The names of the limits that output_limit will clamp: reported as not applied as asked."""
    return [name for name, value in limits.items() if value is not None and value > MAX_OUTPUT_TOKENS]


def url_image(url: str, param: str) -> Block:
    """An image Claude fetches by URL: http(s) with a host, nothing else (no file:, ftp:, data:)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise invalid_request(
            "Image URLs must be http(s) URLs; send other images as base64 data.", param, "invalid_image_url"
        )
    return {"type": "image", "source": {"type": "url", "url": url}}


def image_from_url(url: str, param: str) -> Block:
    """An image as the OpenAI APIs give it, a data: or http(s) URL."""
    if not url.startswith("data:"):
        return url_image(url, param)
    match = _DATA_URL.match(url)
    if not match:
        raise invalid_request(
            "Malformed data URL: expected data:<media type>;base64,<data>.", param, "invalid_image_url"
        )
    return base64_image(match.group("media") or "", match.group("data").strip(), param)


def base64_image(media_type: str, data: str, param: str, media_param: str | None = None) -> Block:
    """An image given inline: a media type Claude reads, and data that is base64."""
    media_type = media_type.lower()
    if media_type not in IMAGE_MEDIA_TYPES:
        raise invalid_request(
            f"Unsupported image type '{media_type or 'none'}'; use one of {', '.join(sorted(IMAGE_MEDIA_TYPES))}.",
            media_param or param,
            "invalid_image_format",
        )
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("The image data is not valid base64.", param, "invalid_image_url") from None
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def checked_schema(schema: dict[str, Any], param: str) -> dict[str, Any]:
    """The output schema, if it fits on Claude Code's command line (measured as the SDK writes it)."""
    size = len(json.dumps(schema))
    if size > MAX_SCHEMA_BYTES:
        raise invalid_request(
            f"The JSON schema is {size} bytes; this gateway accepts up to {MAX_SCHEMA_BYTES} "
            "(Claude Code takes it on its command line).",
            param,
            "schema_too_large",
        )
    return schema


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


def check_tool_results(messages: list[Message]) -> None:
    """Refuse a tool result that answers no call of the assistant message right before it, as
    OpenAI ("messages with role 'tool' must be a response to a preceding message with
    'tool_calls'") and Anthropic ("unexpected `tool_use_id` found in `tool_result` blocks") do.

    `messages` must be the whole conversation the turn will have: with previous_response_id or a
    named session, the call may be in the history the gateway keeps, not in the request.
    """
    previous: Message | None = None
    for message in messages:
        calls = {b.get("id") for b in previous.content if b.get("type") == "tool_use"} if previous else set()
        for block in message.content:
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in calls:
                raise invalid_request(
                    f"No tool call '{block.get('tool_use_id')}' precedes this tool result: a tool result "
                    "(a `tool` message, a `function_call_output` item or a `tool_result` block) must answer "
                    "a call made in the assistant message right before it.",
                    code="orphan_tool_result",
                )
        previous = message if message.role == "assistant" else None
