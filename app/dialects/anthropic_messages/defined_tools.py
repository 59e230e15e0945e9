"""Anthropic-defined client tools (`bash_20250124`, `text_editor_*`, `memory_20250818`,
`computer_*`): tools whose input schema Anthropic publishes rather than the client. The client runs
them; the gateway offers each to Claude as a function of the client's own, under the client's
name, with the schema Anthropic gives it, so Claude's calls come back as ordinary `tool_use` blocks
of that name. (Through the OpenAI doors the same tools are plain functions: nothing to do there.)
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_POINT = {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _editor(commands: list[str]) -> dict[str, Any]:
    properties = {
        "command": {"type": "string", "enum": commands, "description": "The command to run."},
        "path": {"type": "string", "description": "Absolute path to the file or folder."},
        "file_text": {"type": "string", "description": "create: the content of the file to create."},
        "old_str": {"type": "string", "description": "str_replace: the exact text to replace (unique in the file)."},
        "new_str": {"type": "string", "description": "str_replace: the new text; insert: the text to insert."},
        "insert_line": {"type": "integer", "description": "insert: the line after which new_str goes (0: first)."},
        "view_range": {**_POINT, "description": "view: first and last line to show (-1: to the end)."},
    }
    return _object(properties, ["command", "path"])


_EDITS = ["view", "create", "str_replace", "insert"]
_EDITOR = "View, create and edit text files: view (a file with line numbers, or a folder), create, str_replace, insert"
_BASH = _object(
    {
        "command": {"type": "string", "description": "The bash command to run."},
        "restart": {"type": "boolean", "description": "Restart the bash session instead of running a command."},
    },
    [],
)
_MEMORY = _object(
    {
        "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "delete", "rename"]},
        "path": {"type": "string", "description": "A path under /memories."},
        "file_text": _STRING,
        "old_str": _STRING,
        "new_str": _STRING,
        "insert_line": _INT,
        "insert_text": _STRING,
        "view_range": _POINT,
        "old_path": _STRING,
        "new_path": _STRING,
    },
    ["command"],
)
_ACTIONS = [
    "key",
    "hold_key",
    "type",
    "cursor_position",
    "mouse_move",
    "left_mouse_down",
    "left_mouse_up",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "triple_click",
    "scroll",
    "wait",
    "screenshot",
]


def _computer(actions: list[str]) -> dict[str, Any]:
    properties = {
        "action": {"type": "string", "enum": actions},
        "coordinate": {**_POINT, "description": "(x, y) in pixels from the top left of the display."},
        "start_coordinate": _POINT,
        "text": {"type": "string", "description": "type: the text; key: the key combination (xdotool names)."},
        "duration": {"type": "number", "description": "hold_key, wait: seconds."},
        "scroll_direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
        "scroll_amount": _INT,
        "region": {"type": "array", "items": _INT, "minItems": 4, "maxItems": 4},
    }
    return _object(properties, ["action"])


# type -> (schema, what Claude is told the tool does)
TOOLS: dict[str, tuple[dict[str, Any], str]] = {
    "bash_20241022": (_BASH, "Run commands in a persistent bash session."),
    "bash_20250124": (_BASH, "Run commands in a persistent bash session."),
    "text_editor_20241022": (
        _editor(["view", "create", "str_replace", "insert", "undo_edit"]),
        _EDITOR + ", undo_edit.",
    ),
    "text_editor_20250124": (
        _editor(["view", "create", "str_replace", "insert", "undo_edit"]),
        _EDITOR + ", undo_edit.",
    ),
    "text_editor_20250429": (_editor(["view", "create", "str_replace", "insert"]), _EDITOR + "."),
    "text_editor_20250728": (_editor(["view", "create", "str_replace", "insert"]), _EDITOR + "."),
    "memory_20250818": (_MEMORY, "Keep and read notes in the /memories folder across conversations."),
    "computer_20241022": (_computer(_ACTIONS), "Use the computer's screen, mouse and keyboard."),
    "computer_20250124": (_computer(_ACTIONS), "Use the computer's screen, mouse and keyboard."),
    "computer_20251124": (_computer([*_ACTIONS, "zoom"]), "Use the computer's screen, mouse and keyboard."),
}


# The options Anthropic defines for these tools; any other field a client adds stays out of the prompt.
OPTIONS = ("display_width_px", "display_height_px", "display_number", "max_characters")


def is_defined(kind: object) -> bool:
    return isinstance(kind, str) and kind in TOOLS


def offered(kind: str, description: str | None, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What Claude is told of a defined tool, and its input schema. The tool's own options (the
    display's size, the editor's max_characters) go into the description, where Claude reads them."""
    schema, told = TOOLS[kind]
    shown = {k: v for k, v in options.items() if k in OPTIONS and isinstance(v, (int, str, bool))}
    notes = "; ".join(f"{k}: {v}" for k, v in sorted(shown.items()))
    return " ".join(p for p in (description or told, f"({notes})" if notes else "") if p), schema
