"""OpenAI `custom` tools (Responses and Chat Completions): tools whose input is free text, not
JSON arguments. Claude calls functions with JSON, so each is offered to Claude as a function of one
string argument, `{"input": string}`, and the client gets back what Claude wrote in it, the raw
string, whole or streamed piece by piece as Claude writes it (`RawInput`).

A `format` of type `text` asks for nothing more. A `grammar` (Lark or a regular expression) cannot
be enforced: Claude Code samples freely. It is told to Claude in the function's description, and the
door names it as not applied (X-Gateway-Ignored-Params; strict mode refuses it).
"""

from __future__ import annotations

import json
import re

from pydantic_core import from_json

from ..core.messages import Block, ToolSpec
from .request_rules import tool_spec

INPUT = "input"  # the one argument Claude is offered
SCHEMA = {
    "type": "object",
    "properties": {INPUT: {"type": "string", "description": "The tool's whole input, as free text (not JSON)."}},
    "required": [INPUT],
}
SYNTAXES = {"lark": "Lark grammar", "regex": "regular expression"}


def spec(name: str, description: str | None, syntax: str | None = None, definition: str | None = None) -> ToolSpec:
    """A custom tool as the function Claude is offered; a grammar's definition joins its description."""
    about = [description or "", f"Pass the whole input as the string argument `{INPUT}`."]
    if syntax is not None:
        kind = SYNTAXES.get(syntax, syntax)
        about.append(f"The input must match this {kind}:\n{definition or ''}")
    return tool_spec(name, "\n\n".join(part for part in about if part), SCHEMA)


def raw_input(arguments: str) -> str:
    """The raw input in Claude's JSON arguments (as far as they came: max_tokens may cut them off).
    Claude sometimes names the argument otherwise: then its one string, else the JSON it wrote."""
    try:
        value = from_json(arguments or "{}", allow_partial="trailing-strings")
    except ValueError:
        return ""
    if not isinstance(value, dict):
        return ""
    given = value.get(INPUT)
    if isinstance(given, str):
        return given
    strings = [v for v in value.values() if isinstance(v, str)]
    if given is None and len(strings) == 1 and len(value) == 1:
        return strings[0]
    return json.dumps(given if given is not None else value, ensure_ascii=False) if value else ""


def call_block(call_id: str, name: str, raw: str) -> Block:
    """A custom tool's call sent back (history): the tool_use Claude wrote for it."""
    return {"type": "tool_use", "id": call_id, "name": name, "input": {INPUT: raw}}


_OPENING = re.compile(r'\s*\{\s*"input"\s*:\s*"')
_MAX_OPENING = 256  # characters read looking for the opening before giving up on streaming


def _string_end(text: str) -> tuple[int, bool]:
    """How much of `text` (a JSON string's content, as far as it came) is whole: up to its closing
    quote (then True), or up to an escape cut off at the end, whose rest is in the next piece."""
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            return i, True
        if text[i] != "\\":
            i += 1
            continue
        width = 6 if text[i + 1 : i + 2] == "u" else 2
        if text[i + 2 : i + 4].lower() in ("d8", "d9", "da", "db") and width == 6:
            width = 12  # a high surrogate: its low half must come with it
        if i + width > n:
            return i, False
        i += width
    return n, False


class RawInput:
    """Claude's JSON arguments, `{"input": "..."}`, read piece by piece as they stream: `feed` gives
    the new part of the raw input. Pieces that do not open that way stream nothing; `rest` then gives
    the whole at the end, so the pieces always add up to `raw_input` of the arguments."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._head = ""  # the arguments read before the string opened
        self._open = False
        self._closed = False  # the string ended, or streaming was given up
        self._held = ""  # an escape cut off at a piece's end, kept for the next

    def feed(self, piece: str) -> str:
        if self._closed:
            return ""
        if not self._open:
            self._head += piece
            opening = _OPENING.match(self._head)
            if opening is None:
                self._closed = len(self._head) > _MAX_OPENING
                return ""
            self._open, piece, self._head = True, self._head[opening.end() :], ""
        text = self._held + piece
        cut, self._closed = _string_end(text)
        text, self._held = text[:cut], "" if self._closed else text[cut:]
        try:
            decoded = json.loads(f'"{text}"', strict=False)
        except ValueError:  # not JSON Claude Code would pass on; the whole comes at the end
            self._closed = True
            return ""
        self.sent.append(decoded)
        return str(decoded)

    def rest(self, arguments: str) -> str:
        """What is left to send of the raw input once the `arguments` are complete: all of it when
        nothing streamed; nothing when what streamed cannot be its start (it cannot be taken back)."""
        whole, sent = raw_input(arguments), "".join(self.sent)
        return whole[len(sent) :] if whole.startswith(sent) else ""
