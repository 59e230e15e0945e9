"""Chat Completions' `custom` tools (free-text input: dialects/custom_tools.py): what Claude is
offered for them, and Claude's calls of them as `tool_calls` entries of `type: "custom"` with
`custom: {name, input}`, whole and streamed (`custom.input` in pieces, as OpenAI streams them).
A custom tool keeps its own name, which no function of the request may have."""

from __future__ import annotations

from typing import Any

from ...core.errors import invalid_request
from ...core.events import ToolCallDelta, ToolCallStart
from ...core.messages import ToolSpec
from .. import custom_tools
from . import tool_wire as ct
from . import wire as oa


def custom_names(request: oa.ChatCompletionRequest) -> frozenset[str]:
    """The names of the request's custom tools; a 400 for a name two tools share."""
    functions = {t.function.name for t in request.tools or [] if isinstance(t, oa.FunctionTool)}
    functions |= {f.name for f in request.functions or []}
    names: set[str] = set()
    for i, tool in enumerate(request.tools or []):
        if isinstance(tool, ct.CustomTool):
            if tool.custom.name in functions or tool.custom.name in names:
                raise invalid_request(
                    f"Two tools of the request are named '{tool.custom.name}'; each tool needs a name of its own.",
                    f"tools[{i}].custom.name",
                    "duplicate_tool_name",
                )
            names.add(tool.custom.name)
    return frozenset(names)


def specs(request: oa.ChatCompletionRequest) -> list[ToolSpec]:
    offered = []
    for tool in request.tools or []:
        if isinstance(tool, ct.CustomTool):
            grammar = tool.custom.format.grammar if isinstance(tool.custom.format, ct.CustomGrammarFormat) else None
            syntax, definition = (grammar.syntax, grammar.definition) if grammar else (None, None)
            offered.append(custom_tools.spec(tool.custom.name, tool.custom.description, syntax, definition))
    return offered


def unapplied(request: oa.ChatCompletionRequest) -> list[str]:
    """A grammar is told to Claude, and nothing enforces it."""
    tools = request.tools or []
    return [
        f"tools[{i}].custom.format"
        for i, t in enumerate(tools)
        if isinstance(t, ct.CustomTool) and isinstance(t.custom.format, ct.CustomGrammarFormat)
    ]


def tool_call(call_id: str, name: str, arguments: str, custom: frozenset[str]) -> oa.ToolCall | ct.CustomToolCall:
    """One of Claude's calls, whole: a custom tool's with its raw input, a function's as it is."""
    if name in custom:
        return ct.CustomToolCall(
            id=call_id, type="custom", custom=ct.CustomCall(name=name, input=custom_tools.raw_input(arguments))
        )
    return oa.ToolCall(id=call_id, function=oa.FunctionCall(name=name, arguments=arguments))


class CustomDeltas:
    """The streamed custom calls of each choice: their raw input as it comes (`custom_tools.RawInput`)."""

    def __init__(self, custom: frozenset[str]) -> None:
        self.custom = custom
        self._calls: dict[tuple[int, int], tuple[custom_tools.RawInput, list[str]]] = {}

    def start(self, event: ToolCallStart, choice: int) -> dict[str, Any] | None:
        """The first fragment of a custom call; None for a function's."""
        if event.name not in self.custom:
            return None
        self._calls[(choice, event.index)] = (custom_tools.RawInput(), [])
        return {"index": event.index, "id": event.id, "type": "custom", "custom": {"name": event.name, "input": ""}}

    def piece(self, event: ToolCallDelta, choice: int) -> str | None:
        """The new raw input for a piece of a custom call's arguments ('' for none yet); None for a function's."""
        call = self._calls.get((choice, event.index))
        if call is None:
            return None
        call[1].append(event.arguments)
        return call[0].feed(event.arguments)

    def rest(self, choice: int) -> list[tuple[int, str]]:
        """At the choice's end: what is left of each custom call's input (call index, text)."""
        left = []
        for (at, index), (raw, pieces) in list(self._calls.items()):
            if at == choice:
                del self._calls[(at, index)]
                if text := raw.rest("".join(pieces)):
                    left.append((index, text))
        return left
