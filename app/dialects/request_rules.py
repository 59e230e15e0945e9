"""The request-side rules every front door's translator follows: what a conversation, its images,
tools, output schema, effort and limits must be to reach Claude Code, each written once. A door's
translator reads its own wire shape and hands the pieces to these."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..core import jsontext
from ..core.errors import GatewayError, invalid_request
from ..core.messages import Block, Message, Role, ToolSpec
from ..core.turn import ask_for_call

IMAGE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# Claude Code takes an output schema only on its command line (--json-schema, no file form), where
# one argument may hold 128 KiB and every local user can read it in `ps`.
MAX_SCHEMA_BYTES = 64 * 1024
# The most output tokens Claude Code asks Claude for: it caps CLAUDE_CODE_MAX_OUTPUT_TOKENS there
# (measured with CLI 2.1.329: 200000 and 2**70 both reached the API as 128000, for every model).
MAX_OUTPUT_TOKENS = 128_000
# OpenAI's reasoning effort -> Claude's effort (`max`: Claude's own top level, which /v1/models lists).
EFFORTS = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
# A function without a schema takes no arguments.
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
# What Claude Code is sent when a conversation ends with the assistant's message (see
# continue_after_assistant).
CONTINUE_PROMPT = "(No new message from the user: write your next message.)"
# Sampling parameters at the values Claude samples with anyway (Claude Code sends none, and Claude's
# default temperature is 1, as OpenAI's is): every door's no-op values for them (see `ignored`).
CLAUDE_SAMPLING: dict[str, tuple[object, ...]] = {"temperature": (1,), "top_p": (1,)}
_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+)?(?P<params>(;[^,;]*)*?);base64,(?P<data>.*)$", re.DOTALL)


# --- parameters -------------------------------------------------------------------------------------
def ignored(request: BaseModel, unapplied: Mapping[str, tuple[object, ...]], found: list[str]) -> list[str]:
    """The request's parameters that will not be applied: the `unapplied` ones it sets, those the
    door `found` it cannot apply as asked, then its unknown fields.

    `unapplied` maps each parameter to its no-op values: what asks for what happens anyway (the
    API's own default, an empty list). Frameworks send those on every request, and a parameter
    at one of them is applied, by doing nothing: it is neither reported nor refused in strict mode.
    """
    named = [name for name, no_ops in unapplied.items() if getattr(request, name) not in (None, *no_ops)]
    return named + found + sorted(request.model_extra or {})


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


def effort(requested: str | None, param: str) -> str | None:
    """Claude's effort for OpenAI's reasoning effort; None leaves Claude Code's default."""
    if requested is None:
        return None
    if requested not in EFFORTS:
        raise invalid_request(f"{param} must be one of {', '.join(EFFORTS)}.", param, "invalid_value")
    return EFFORTS[requested]


def output_schema(kind: str | None, schema: dict[str, Any] | None, param: str) -> dict[str, Any] | None:
    """The JSON schema the answer must follow, from a response format's type ("text",
    "json_object" or "json_schema") and its schema; None for plain text."""
    if kind is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if schema is None:
        raise invalid_request(f"{param} must be a JSON schema object.", param, "invalid_value")
    return checked_schema(schema, param)


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


# --- tools ------------------------------------------------------------------------------------------
def forced_tool(offered: bool, required: bool, named: str | None) -> str | None:
    """The function the answer must call: '' for any of them (OpenAI's tool_choice "required",
    Anthropic's "any"), the `named` one; None when Claude may choose, or no function is `offered`."""
    if not offered:
        return None
    return "" if required else named


def tool_spec(
    name: str, description: str | None, parameters: dict[str, Any] | None, deferred: bool = False
) -> ToolSpec:
    """A client's function as Claude is offered it. The schema is JSON text with sorted keys: the
    spec is part of a process's options, so equal schemas must be equal text."""
    return ToolSpec(name, description or "", json.dumps(parameters or NO_PARAMETERS, sort_keys=True), deferred)


def tool_call(call_id: str, name: str, arguments: str | None, param: str) -> Block:
    """An earlier function call as an OpenAI client sends it back (its arguments as JSON text)."""
    try:
        parsed = jsontext.loads(arguments or "{}")
    except jsontext.InvalidJSON as exc:
        raise invalid_request(f"{param} is not valid JSON: {exc}.", param) from None
    if not isinstance(parsed, dict):
        raise invalid_request(f"{param} must be a JSON object.", param)
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def tool_result(call_id: str, content: str | list[Block]) -> Block:
    """A function's result for Claude: its text, or (when it holds images) its text and image
    blocks, which reach Claude as images."""
    if isinstance(content, list) and all(block.get("type") == "text" for block in content):
        content = "\n".join(block["text"] for block in content)
    return {"type": "tool_result", "tool_use_id": call_id, "content": content}


# --- content ----------------------------------------------------------------------------------------
def system_prompt(parts: Iterable[str | None], forced_tool: str | None = None) -> str | None:
    """The system prompt from the client's parts, blank ones left out. Claude Code cannot force a
    tool call, so when the client forces one (`forced_tool`: its name, '' for any), the prompt
    asks for it (and the engine asks again if needed: engine/turns/forcing.py)."""
    if forced_tool is not None:
        parts = [*parts, ask_for_call(forced_tool)]
    return "\n\n".join(part for part in parts if part) or None


def text_blocks(text: str) -> list[Block]:
    """A text block, or none for blank text: Claude refuses empty text blocks."""
    return [{"type": "text", "text": text}] if text.strip() else []


def require_content(blocks: list[Block], where: str) -> list[Block]:
    """A user message's blocks; Claude refuses an empty message, so it is refused here, naming it."""
    if not blocks:
        raise invalid_request(f"{where}.content is empty.", f"{where}.content", "empty_content")
    return blocks


def append_message(messages: list[Message], role: Role, blocks: list[Block], joined: str | None = None) -> None:
    """Add blocks, merging same-role neighbours: Claude wants strictly alternating turns (for
    `joined`, see add_blocks)."""
    if not blocks:
        return
    if messages and messages[-1].role == role:
        add_blocks(messages[-1].content, blocks, joined if role == "assistant" else None)
    else:
        messages.append(Message(role, list(blocks)))


def add_blocks(blocks: list[Block], new: list[Block], joined: str | None = None) -> None:
    """Add `new` blocks to a message's `blocks`. `joined`: they go on with an answer the client sent
    back in pieces, with parts between them that are not passed on (thinking, the tools Claude Code
    ran itself); the gateway remembers an answer's text as one, so the first text goes on the text
    before it, after `joined` (the step separator where a tool ran between, see `left_out`), and
    the conversation is the one Claude Code holds."""
    if joined is not None and new and blocks and new[0].get("type") == "text" and blocks[-1].get("type") == "text":
        blocks[-1] = {"type": "text", "text": blocks[-1]["text"] + joined + new[0]["text"]}
        new = new[1:]
    blocks.extend(new)


def continue_after_assistant(messages: list[Message], param: str) -> None:
    """The OpenAI doors' rule for a conversation that ends with the assistant's message (LangGraph's
    structured response sends one): OpenAI answers it with the next assistant message. Claude Code
    runs a turn only on a user message, so CONTINUE_PROMPT follows the assistant's: a short fixed
    text, the least the gateway can add, which the turn (and its session's history) then holds.
    An assistant message that ends in function calls needs their results first, as on OpenAI."""
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant":
        if any(block.get("type") == "tool_use" for block in last.content):
            raise invalid_request(
                "The last message calls functions: send their results after it (`tool` messages, "
                "`function_call_output` items).",
                param,
                "invalid_last_message",
            )
        messages.append(Message("user", [{"type": "text", "text": CONTINUE_PROMPT}]))
    require_user_last(messages, param)


def require_user_last(messages: list[Message], param: str) -> None:
    """Claude Code answers a user message (or tool results); it cannot continue its own. So on the
    Anthropic door a last assistant message, a prefill Claude would continue, is refused."""
    if not messages or messages[-1].role != "user":
        raise invalid_request(
            "The last message must come from the user (or be a tool result); Claude Code cannot continue "
            "an assistant message.",
            param,
            "invalid_last_message",
        )


def check_tool_results(messages: list[Message]) -> None:
    """Refuse a tool result that answers no call of the assistant message right before it, as
    OpenAI ("messages with role 'tool' must be a response to a preceding message with
    'tool_calls'") and Anthropic ("unexpected `tool_use_id` found in `tool_result` blocks") do.

    `messages` must be the whole conversation the turn will have: with previous_response_id or a
    named session, the call may be in the history the gateway keeps, not in the request. A legacy
    `function` message names no call (its id is ""): it answers the first call before it.
    """
    previous: Message | None = None
    for message in messages:
        ids = [b.get("id") for b in previous.content if b.get("type") == "tool_use"] if previous else []
        for block in message.content:
            if block.get("type") == "tool_result" and block.get("tool_use_id") == "" and ids:
                block["tool_use_id"] = ids[0]  # a legacy function message, in a session that holds its call
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in ids:
                raise invalid_request(
                    f"No tool call '{block.get('tool_use_id')}' precedes this tool result: a tool result "
                    "(a `tool` message, a `function_call_output` item or a `tool_result` block) must answer "
                    "a call made in the assistant message right before it.",
                    code="orphan_tool_result",
                )
        previous = message if message.role == "assistant" else None


# --- images -----------------------------------------------------------------------------------------
def image_from_url(url: str, param: str) -> Block:
    """An image as the OpenAI APIs give it: a data: or an http(s) URL."""
    if not url.startswith("data:"):
        return url_image(url, param)
    match = _DATA_URL.match(url)
    if not match:
        raise invalid_request(
            "Malformed data URL: expected data:<media type>;base64,<data>.", param, "invalid_image_url"
        )
    return base64_image(match.group("media") or "", match.group("data").strip(), param)


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


def rfc3339(at: float) -> str:
    """Epoch seconds as the APIs write a moment: RFC 3339 in UTC, to the microsecond, with "Z"."""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
