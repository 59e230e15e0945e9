"""The Responses tools the client runs that are not plain functions: `custom` tools
(dialects/custom_tools.py) and the shell and patch tools (shell_tools.py). Each is offered to Claude
as a function under its own name (a custom tool's `name`; the type, for `local_shell`, `shell` and
`apply_patch`), which no other tool of the request may have; this module says which Claude function
is which tool, what Claude is offered, and what a call or an output sent back is for Claude.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import invalid_request
from ...core.messages import Block, Message, ToolSpec
from .. import custom_tools
from ..request_rules import append_message, tool_result
from . import shell_tools
from . import tool_wire as tw
from . import wire as orq


def kinds(tools: Sequence[orq.AnyTool] | None) -> dict[str, str]:
    """Claude's name of each custom, shell or patch tool -> its type; a 400 for a name two tools share."""
    names = {t.name for t in tools or [] if isinstance(t, orq.FunctionTool)}
    found: dict[str, str] = {}
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, orq.ClientTool):
            continue
        name = tool.name if isinstance(tool, tw.CustomTool) else tool.type
        if name in names or name in found:
            raise invalid_request(
                f"Two tools of the request are named '{name}'; each tool needs a name of its own.",
                f"tools[{i}].name" if isinstance(tool, tw.CustomTool) else f"tools[{i}].type",
                "duplicate_tool_name",
            )
        found[name] = tool.type
    return found


def specs(tools: Sequence[orq.AnyTool]) -> list[ToolSpec]:
    """The functions Claude is offered for them."""
    offered = []
    for tool in tools:
        if isinstance(tool, tw.CustomTool):
            grammar = tool.format if isinstance(tool.format, tw.GrammarInputFormat) else None
            syntax, definition = (grammar.syntax, grammar.definition) if grammar else (None, None)
            offered.append(custom_tools.spec(tool.name, tool.description, syntax, definition))
        elif isinstance(tool, orq.ClientTool):
            offered.append(shell_tools.SPECS[tool.type])
    return offered


def unapplied(tools: Sequence[orq.AnyTool] | None) -> list[str]:
    """What of them cannot be applied: a grammar (Claude is told it, nothing enforces it), skills."""
    found = []
    for i, tool in enumerate(tools or []):
        if isinstance(tool, tw.CustomTool) and isinstance(tool.format, tw.GrammarInputFormat):
            found.append(f"tools[{i}].format")
        elif isinstance(tool, tw.ShellTool) and tool.environment and tool.environment.skills:
            found.append(f"tools[{i}].environment.skills")
    return found


def forced(choice: tw.NamedCustom | tw.NamedBuiltIn) -> str:
    """The function Claude must call for a tool_choice naming one of them."""
    return choice.name if isinstance(choice, tw.NamedCustom) else choice.type


def add_item(item: tw.CallItem | tw.OutputItem, messages: list[Message]) -> None:
    """A call of one of them sent back (the assistant's), or its output (the user's)."""
    if isinstance(item, tw.CustomToolCallItem):
        append_message(messages, "assistant", [custom_tools.call_block(item.call_id, item.name, item.input)])
    elif isinstance(item, (tw.LocalShellCallItem, tw.ShellCallItem, tw.ApplyPatchCallItem)):
        name, arguments = shell_tools.claude_input(item)
        use: Block = {"type": "tool_use", "id": item.call_id, "name": name, "input": arguments}
        append_message(messages, "assistant", [use])
    else:
        text, failed = shell_tools.output_text(item)
        call_id = item.answers if isinstance(item, tw.LocalShellCallOutputItem) else item.call_id
        result = tool_result(call_id, text)
        append_message(messages, "user", [{**result, "is_error": True} if failed else result])
