"""OpenAI `namespace` tools (a named group of functions, as Codex CLI sends them): Claude is offered
each inner function under a name of its own, `<namespace>__<name>`, that no other function of the
request has; a call comes back as a `function_call` with the function's own `name` and its
`namespace`, as OpenAI returns it, and a call sent back with a `namespace` is read the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import invalid_request
from . import tool_wire as tw
from . import wire as orq

MAX_NAME = 64  # Claude's limit on a tool's name (the client's ToolName)


def claude_names(tools: Sequence[orq.AnyTool] | None) -> dict[str, tuple[str, str]]:
    """Claude's name of each namespaced function -> (namespace, name). Top-level functions and
    client-run tools (client_tools.py) keep their own names, which a namespaced one never takes (a
    clash gets a numbered name)."""
    taken = {t.name for t in tools or [] if isinstance(t, (orq.FunctionTool, tw.CustomTool))}
    taken |= {t.type for t in tools or [] if isinstance(t, (tw.LocalShellTool, tw.ShellTool, tw.ApplyPatchTool))}
    found: dict[str, tuple[str, str]] = {}
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, orq.NamespaceTool):
            continue
        for j, inner in enumerate(tool.tools):
            name, n = f"{tool.name}__{inner.name}", 1
            while name in taken:
                n += 1
                name = f"{tool.name}__{inner.name}_{n}"
            if len(name) > MAX_NAME:
                raise invalid_request(
                    f"Namespace '{tool.name}' and function '{inner.name}' make a name longer than {MAX_NAME} "
                    "characters, which Claude cannot take; shorten one of them.",
                    f"tools[{i}].tools[{j}].name",
                    "invalid_value",
                )
            taken.add(name)
            found[name] = (tool.name, inner.name)
    return found


def for_claude(names: dict[str, tuple[str, str]], namespace: str | None, name: str) -> str:
    """The name Claude knows a function by, for a call a client sends back (with its namespace)."""
    if namespace is None:
        return name
    return next((claude for claude, pair in names.items() if pair == (namespace, name)), f"{namespace}__{name}")
