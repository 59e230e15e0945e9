"""Tool types a request may name that the gateway does not serve (yet): refused with a 400 that
names the type, where it is and why, in the door's own envelope, with the code
`unsupported_tool_type`, never pydantic's generic "Input should be 'function'" or "Missing
required parameter input_schema".

What is served today: OpenAI `function` and `custom` tools (Chat Completions, Responses;
custom_tools.py), on Responses `namespace` tools of functions (openai_responses/namespaces.py),
the client-run `local_shell`, `shell` (in a local environment) and `apply_patch`
(openai_responses/shell_tools.py), and `web_search`; Chat's `web_search_options`; Anthropic
custom tools (no `type`, or `"custom"`), Anthropic-defined client tools
(anthropic_messages/defined_tools.py: bash, text editor, memory, computer), web search and web
fetch, and tool search (Anthropic's search tools; Responses `tool_search`: both with Claude Code's
ToolSearch, anthropic_messages/tool_search.py). The hosted ones are served by Claude Code's own
WebSearch and WebFetch (core/hosted.py, dialects/hosted.py). Each wire model checks its `tools`
with `refuse_unserved` before it validates them, so that every way into a door (HTTP, the
WebSockets, batches) refuses alike.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic_core import PydanticCustomError

from .anthropic_messages.defined_tools import is_defined
from .anthropic_messages.tool_search import is_search

Api = Literal["chat", "responses", "anthropic", "namespace"]  # namespace: the tools inside one
# Anthropic's server tools the gateway serves with Claude Code's own (core/hosted.py): their first
# version's date; later versions (a later date) are served too.
SERVER_TOOLS = {"web_search": "20250305", "web_fetch": "20250910"}
# OpenAI's web search tool types (Responses), served likewise.
WEB_SEARCH_TYPES = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")

# Why a type is not served, where there is more to say than "not yet". Matched on the type, or on
# its prefix for Anthropic's dated versions (web_search_20250305, code_execution_20250825, ...).
REASONS: dict[str, str] = {
    "file_search": "it searches OpenAI vector stores, which this gateway does not keep",
    "image_generation": "Claude does not generate images",
    "computer_use_preview": "it drives OpenAI's computer-use model",
    "code_interpreter": "it runs code in a hosted container; Claude Code runs tools on this gateway only in agent mode "
    "(the claude_code field)",
    "code_execution": "it runs code in a hosted container; Claude Code runs tools on this gateway only in agent mode "
    "(the claude_code field)",
}
HOSTED_SHELL = (
    "it runs the commands in an OpenAI-hosted container, which this gateway does not have; the shell tool is "
    "served with a local environment (no `environment`, or type 'local': the client runs the commands)"
)
RESPONSES_TYPES = {"function", "namespace", "custom", "local_shell", "shell", "apply_patch", "tool_search", "mcp"}
SERVED = {
    "chat": "this gateway serves tools of type 'function' and 'custom'",
    "responses": "this gateway serves tools of type 'function', 'custom', 'namespace' (of functions), 'local_shell', "
    "'shell', 'apply_patch', 'web_search', 'mcp' (remote MCP servers) and 'tool_search' (run by the gateway)",
    "namespace": "this gateway serves tools of type 'function' inside a namespace",
    "anthropic": "this gateway serves custom tools (name, description, input_schema), the Anthropic-defined "
    "bash, text_editor, memory and computer tools, web_search (20250305 and later), web_fetch "
    "(20250910 and later) and tool search (tool_search_tool_regex and _bm25, 20251119)",
}


def served(api: Api, kind: object) -> bool:
    """Whether a tool of this `type` is one the gateway serves; a type that is not a string (or none,
    where the API requires one) is left to the wire model's own checks."""
    if not isinstance(kind, str):
        return True
    if api == "anthropic":
        return kind == "custom" or is_defined(kind) or is_server_tool(kind) or is_search(kind)
    if api == "responses":
        return kind in RESPONSES_TYPES or kind in WEB_SEARCH_TYPES
    return kind == "function" or (api == "chat" and kind == "custom")


def is_server_tool(kind: object) -> bool:
    """Whether an Anthropic tool type is a web search or web fetch version the gateway serves."""
    found = re.fullmatch(r"(web_search|web_fetch)_(\d{8})", kind) if isinstance(kind, str) else None
    return found is not None and found.group(2) >= SERVER_TOOLS[found.group(1)]


def reason(kind: str) -> str:
    for prefix, why in REASONS.items():
        if kind == prefix or kind.startswith(prefix + "_"):
            return why
    return "it is not one this gateway serves yet"


def refuse_unserved(data: Any, api: Api, where: str = "") -> Any:
    """A wire model's before-validator: `data` as it came, or the refusal of its first tool whose
    type the gateway does not serve."""
    tools = data.get("tools") if isinstance(data, dict) else None
    if not isinstance(tools, list):
        return data
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "namespace" and isinstance(tool, dict):  # its functions: tools[i].tools[j]
            refuse_unserved(tool, "namespace", f"tools[{index}].")
        if not served(api, kind):
            assert isinstance(kind, str)
            param = f"{where}tools[{index}].type"
            _refuse(param, f"Unsupported tool type {kind[:100]!r}", f"{reason(kind)}; {SERVED[api]}")
        environment = tool.get("environment") if isinstance(tool, dict) and kind == "shell" else None
        hosted = environment.get("type") if isinstance(environment, dict) else None
        if hosted not in (None, "local"):
            _refuse(
                f"{where}tools[{index}].environment.type",
                f"Unsupported shell environment {str(hosted)[:100]!r}",
                HOSTED_SHELL,
            )
        if kind == "tool_search" and isinstance(tool, dict) and tool.get("execution") == "client":
            _refuse(
                f"{where}tools[{index}].execution",
                "A tool search the client runs (execution 'client') is not served",
                "the tools it finds would join a Claude turn already running; this gateway runs the search "
                "itself: leave out execution, or set it to 'server'",
            )
    return data


def _refuse(param: str, what: str, why: str) -> None:
    message = f"{what} at {param}: {why}."
    context = {"message": message, "code": "unsupported_tool_type", "param": param}
    raise PydanticCustomError("gateway_refusal", "{message}", context)
