"""The Responses API's client-run shell and patch tools, `local_shell`, `shell` and `apply_patch`
(Codex CLI's tools): OpenAI publishes their call shapes, and the client runs the calls. Each is
offered to Claude as a function of the client's, named after its type, whose arguments are the
call's action (`local_shell`: argv, env, working directory, timeout, user; `shell`: commands, timeout,
output limit; `apply_patch`: one file operation with its diff). Claude's call comes back as the type's
own item (`local_shell_call`, `shell_call`, `apply_patch_call`); the client's output item
(`*_call_output`) goes back to Claude as the function's result.

A call sent back (resent history) becomes the arguments Claude wrote: the fields Claude left out
are left out again (OpenAI's nulls, an empty `env`), so that the conversation is the one the
waiting Claude turn holds and it goes on (engine/turns/router.py matches it by hash).
"""

from __future__ import annotations

from typing import Any

from ...core.jsontext import partial_object
from ...core.messages import ToolSpec
from ..request_rules import tool_spec
from . import tool_wire as tw

_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(required: str, **properties: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """A function's schema: each property's type and what it is for; the one it requires."""
    described = {name: {**kind, "description": about} for name, (kind, about) in properties.items()}
    return {"type": "object", "properties": described, "required": [required]}


_INT, _STRING = {"type": "integer"}, {"type": "string"}
_LOCAL_SHELL = _object(
    "command",
    command=(_STRINGS, 'The program and its arguments (argv), e.g. ["bash", "-lc", "ls -la"].'),
    env=({"type": "object", "additionalProperties": _STRING}, "Variables to set."),
    working_directory=(_STRING, "The folder to run it in."),
    timeout_ms=(_INT, "How long it may run, in milliseconds."),
    user=(_STRING, "The user to run it as."),
)
_SHELL = _object(
    "commands",
    commands=(_STRINGS, 'Shell command lines to run, e.g. ["ls -la", "git status"].'),
    timeout_ms=(_INT, "How long the commands may run, in milliseconds."),
    max_output_length=(_INT, "The most characters of output to return."),
)
_APPLY_PATCH = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["create_file", "update_file", "delete_file"]},
        "path": {"type": "string", "description": "The file's path."},
        "diff": {
            "type": "string",
            "description": "create_file: the new file's lines, each starting with '+'. update_file: a V4A diff, "
            "hunks that each begin with '@@' (optionally followed by a line that locates it, such as a "
            "function's header), then the file's lines each starting with ' ' (kept), '-' (removed) or "
            "'+' (added), with about three lines kept around each change. delete_file: none.",
        },
    },
    "required": ["type", "path"],
}
SPECS: dict[str, ToolSpec] = {
    "local_shell": tool_spec(
        "local_shell", "Run a program on the user's machine; its output (stdout and stderr) comes back.", _LOCAL_SHELL
    ),
    "shell": tool_spec(
        "shell",
        "Run shell commands on the user's machine, in order; each one's output and exit code come back.",
        _SHELL,
    ),
    "apply_patch": tool_spec(
        "apply_patch", "Create, update or delete one file on the user's machine with a diff.", _APPLY_PATCH
    ),
}
ITEM_TYPES = {"local_shell": "local_shell_call", "shell": "shell_call", "apply_patch": "apply_patch_call"}
ID_PREFIXES = {"local_shell": "lsh_", "shell": "sh_", "apply_patch": "apc_"}


def call_item(kind: str, item_id: str, call_id: str, arguments: str, status: str) -> dict[str, Any]:
    """Claude's call (its JSON arguments, as far as they came) as the output item of its type."""
    given = partial_object(arguments)
    item: dict[str, Any] = {"type": ITEM_TYPES[kind], "id": item_id, "call_id": call_id}
    if kind == "local_shell":
        item["action"] = {
            "type": "exec",
            "command": given.get("command", []),
            "env": given.get("env") or {},
            **{key: given.get(key) for key in ("timeout_ms", "working_directory", "user")},
        }
    elif kind == "shell":
        item["action"] = {key: given.get(key) for key in ("commands", "timeout_ms", "max_output_length")}
        item["action"]["commands"] = item["action"]["commands"] or []
    else:
        operation = {key: given[key] for key in ("type", "path", "diff") if key in given}
        item["operation"] = {"type": "update_file", "path": "", **operation}
        status = "in_progress" if status == "incomplete" else status  # apply_patch_call has no other
    return {**item, "status": status}


def claude_input(item: tw.CallItem) -> tuple[str, dict[str, Any]]:
    """A shell or patch call sent back: the function Claude called, and the arguments it wrote."""
    if isinstance(item, tw.LocalShellCallItem):
        arguments = item.action.model_dump(exclude_none=True, exclude={"type"})
        if not arguments.get("env"):
            arguments.pop("env", None)
        return "local_shell", arguments
    if isinstance(item, tw.ShellCallItem):
        return "shell", item.action.model_dump(exclude_none=True)
    assert isinstance(item, tw.ApplyPatchCallItem)
    return "apply_patch", item.operation.model_dump(exclude_none=True)


def output_text(item: tw.OutputItem) -> tuple[str, bool]:
    """A shell or patch call's output, as the text Claude reads, and whether it is an error."""
    if isinstance(item, tw.LocalShellCallOutputItem):
        return item.output, False
    if isinstance(item, tw.ApplyPatchCallOutputItem):
        return item.output or ("Done." if item.status == "completed" else "The patch failed."), item.status == "failed"
    parts = []
    for i, out in enumerate(item.output):
        ending = out.outcome
        said = "timed out" if ending and ending.type == "timeout" else f"exit code {ending.exit_code}" if ending else ""
        lines = [f"[command {i + 1}{': ' + said if said else ''}]", out.stdout.rstrip("\n")]
        parts.append("\n".join([*lines, *(["stderr:", out.stderr.rstrip("\n")] if out.stderr else [])]))
    return "\n\n".join(parts), False
