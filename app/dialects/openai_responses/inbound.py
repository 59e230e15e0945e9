"""OpenAI Responses request -> the gateway's Turn. Pure functions, no I/O.

The answer's side, events -> the Response object or its stream events, is in
outbound.py.
"""

from __future__ import annotations

import json

from ...core.agent import PERMISSION_SERVER
from ...core.errors import invalid_request
from ...core.hosted import Hosted, WebRules
from ...core.messages import Block, Message, ToolSpec, left_out
from ...core.turn import Turn
from ..documents import file_block
from ..hosted import SOURCES_INCLUDE
from ..request_rules import (
    CLAUDE_SAMPLING,
    append_message,
    clamped_limits,
    continue_after_assistant,
    effort,
    forced_tool,
    ignored,
    image_from_url,
    output_limit,
    output_schema,
    system_prompt,
    text_blocks,
    tool_call,
    tool_result,
    tool_spec,
)
from . import client_tools
from . import tool_wire as tw
from . import wire as orq
from .mcp_items import permission_call, remote_servers, unapplied_filters
from .namespaces import claude_names, for_claude

# Accepted, not applied (see dialects/openai_chat/inbound.py), each with its no-op values.
UNAPPLIED: dict[str, tuple[object, ...]] = {
    **CLAUDE_SAMPLING,
    "truncation": ("disabled",),  # OpenAI's default: the gateway truncates nothing either
    "service_tier": ("auto",),
}


def ignored_parameters(request: orq.ResponsesRequest) -> list[str]:
    found = clamped_limits(max_output_tokens=request.max_output_tokens) + client_tools.unapplied(request.tools)
    if request.parallel_tool_calls is False and request.tools and request.tool_choice != "none":
        found.append("parallel_tool_calls")  # Claude may call several functions at once
    if any(value != SOURCES_INCLUDE for value in request.include or []):
        found.append("include")  # only the web search's sources are added on request
    for i, tool in enumerate(request.tools or []):
        if isinstance(tool, orq.WebSearchTool):  # what Claude Code's WebSearch cannot take
            unapplied = ("search_context_size", "user_location")
            found += [f"tools[{i}].{name}" for name in unapplied if getattr(tool, name) is not None]
    found += unapplied_filters(request.tools or [])
    return ignored(request, UNAPPLIED, found + _deferrals(request.tools or [])[1])


def _deferrals(tools: list[orq.AnyTool]) -> tuple[bool, list[str]]:
    """Whether the functions marked `defer_loading` are deferred (the request has a `tool_search`
    tool, so Claude can find them), and the `defer_loading` parameters not applied: with no search,
    a deferred function could never be loaded, so it is offered like the others."""
    if any(isinstance(tool, orq.ToolSearchTool) for tool in tools):
        return True, []
    found = []
    for i, tool in enumerate(tools):
        if isinstance(tool, (orq.FunctionTool, orq.NamespaceTool)) and tool.defer_loading:
            found.append(f"tools[{i}].defer_loading")
        if isinstance(tool, orq.NamespaceTool):
            found += [f"tools[{i}].tools[{j}].defer_loading" for j, f in enumerate(tool.tools) if f.defer_loading]
    return False, found


def _hosted(tools: list[orq.AnyTool]) -> Hosted:
    """The request's web search, with its domain filter, and its remote MCP servers (mcp_items.py)."""
    for tool in tools:
        if isinstance(tool, orq.WebSearchTool):
            allowed = tool.filters.allowed_domains if tool.filters else None
            return Hosted(web_search=WebRules(allowed_domains=tuple(allowed or ())), mcp=remote_servers(tools))
    return Hosted(mcp=remote_servers(tools))


def _forced_function(request: orq.ResponsesRequest) -> str | None:
    """tool_choice "required" or a named function or tool (request_rules.forced_tool)."""
    choice = request.tool_choice
    named = choice.name if isinstance(choice, orq.NamedFunction) else None
    if isinstance(choice, (tw.NamedCustom, tw.NamedBuiltIn)):
        named = client_tools.forced(choice)
    return forced_tool(bool(request.tools), request.tool_choice == "required", named)


def to_turn(
    request: orq.ResponsesRequest,
    model: str | None,
    tenant: str,
    request_id: str,
    earlier: list[Message],
    earlier_system: str | None,
) -> Turn:
    """The turn: the conversation up to previous_response_id (`earlier`), then the new input."""
    system_parts = [request.instructions or earlier_system]
    messages = [Message(m.role, list(m.content)) for m in earlier]
    items = [orq.MessageItem(role="user", content=request.input)] if isinstance(request.input, str) else request.input
    joined: str | None = None  # the items before were not passed on: what joins the next text (left_out)
    names = claude_names(request.tools)
    client_tools.kinds(request.tools)  # a 400 for a name two tools share
    for i, item in enumerate(items):
        _add_item(item, f"input[{i}]", messages, system_parts, names, joined=joined)
        skipped = isinstance(item, (orq.ReasoningItem, orq.ActivityItem, orq.McpListToolsItem))
        joined = left_out(joined, isinstance(item, orq.ActivityItem)) if skipped else None
    continue_after_assistant(messages, "input")
    hidden = request.tool_choice == "none"
    tools = () if hidden else _specs(request.tools or [], names)
    fmt = request.text.format if request.text else None
    forced = _forced_function(request)
    return Turn(
        model=model,
        messages=messages,
        system=system_prompt(system_parts, forced),
        forced_tool=forced,
        max_output_tokens=output_limit(request.max_output_tokens),
        tenant=tenant,
        request_id=request_id,
        effort=effort(request.reasoning.effort if request.reasoning else None, "reasoning.effort"),
        output_schema=output_schema(fmt.type if fmt else None, fmt.schema_ if fmt else None, "text.format.schema"),
        user=request.user,
        metadata=dict(request.metadata or {}),
        tools=tools,
        hosted=Hosted() if hidden else _hosted(request.tools or []),
    )


def _specs(tools: list[orq.AnyTool], names: dict[str, tuple[str, str]]) -> tuple[ToolSpec, ...]:
    """The functions Claude is offered: the top-level ones, the client-run tools' (client_tools.py),
    then each namespace's under its own names; those the client defers out of view until Claude's
    tool search finds them."""
    searching = _deferrals(tools)[0]
    specs = [
        tool_spec(t.name, t.description, t.parameters, searching and bool(t.defer_loading))
        for t in tools
        if isinstance(t, orq.FunctionTool)
    ]
    specs += client_tools.specs(tools)
    groups = {t.name: t for t in tools if isinstance(t, orq.NamespaceTool)}
    inner = {(t.name, f.name): f for t in groups.values() for f in t.tools}
    for claude, (namespace, name) in names.items():
        function, group = inner[(namespace, name)], groups[namespace]
        about = " ".join(p for p in (f"[{namespace}: {group.description or namespace}]", function.description) if p)
        deferred = searching and bool(group.defer_loading or function.defer_loading)
        specs.append(tool_spec(claude, about, function.parameters, deferred))
    return tuple(specs)


def _add_item(
    item: orq.InputItem,
    where: str,
    messages: list[Message],
    system_parts: list[str | None],
    names: dict[str, tuple[str, str]],
    joined: str | None,
) -> None:
    """Add an input item; `joined`: it goes on with an answer after items left out (add_blocks)."""
    if isinstance(item, orq.MessageItem):
        blocks = _content(item.content, f"{where}.content")
        if item.role == "system" or item.role == "developer":
            system_parts.append(" ".join(b["text"] for b in blocks if b["type"] == "text"))
        else:
            append_message(messages, item.role, blocks, joined)
    elif isinstance(item, orq.FunctionCallItem):
        name = for_claude(names, item.namespace, item.name)
        append_message(messages, "assistant", [tool_call(item.call_id, name, item.arguments, f"{where}.arguments")])
    elif isinstance(item, orq.FunctionCallOutputItem):  # or a custom tool's output
        output = item.output if isinstance(item.output, str) else _content(item.output, f"{where}.output")
        append_message(messages, "user", [tool_result(item.call_id, output)])
    elif isinstance(item, orq.McpApprovalRequestItem) and item.server_label == PERMISSION_SERVER:
        append_message(messages, "assistant", [permission_call(item, f"{where}.arguments")])  # agent mode's prompt
    elif isinstance(item, orq.McpApprovalRequestItem):  # the call as Claude made it (approvals: engine)
        call = tool_call(item.id, f"mcp__{item.server_label}__{item.name}", item.arguments, f"{where}.arguments")
        append_message(messages, "assistant", [call])
    elif isinstance(item, orq.McpApprovalResponseItem):  # its result: the approval, for the engine's hook
        answer = json.dumps({"approve": item.approve, "reason": item.reason})
        append_message(messages, "user", [tool_result(item.approval_request_id, answer)])
    elif not isinstance(
        item, (orq.ReasoningItem, orq.ActivityItem, orq.McpListToolsItem)
    ):  # a client-run tool's call or output
        client_tools.add_item(item, messages)
    # Left out: reasoning items (earlier reasoning is not sent back to Claude), and the tools Claude
    # Code ran itself (mcp_call, claude_code_call items): it ran them, Claude must not run them again.


def _content(content: str | list[orq.ContentPart], where: str) -> list[Block]:
    """Content parts (at `where`, a message's content or a function's output) as blocks."""
    if isinstance(content, str):
        return text_blocks(content)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if isinstance(part, (orq.InputText, orq.OutputText, orq.PlainText)):
            blocks.extend(text_blocks(part.text))
        elif isinstance(part, orq.Refusal):
            blocks.extend(text_blocks(part.refusal))
        elif isinstance(part, orq.InputFile):
            if part.file_url is not None and part.file_data is None:
                raise invalid_request(
                    "file_url is not served here: upload the file with POST /v1/files and send its file_id.",
                    f"{where}[{j}].file_url",
                    "unsupported_file_url",
                )
            blocks.append(file_block(part.file_data, part.filename, f"{where}[{j}].file_data"))
        elif part.image_url is not None:
            blocks.append(image_from_url(part.image_url, f"{where}[{j}].image_url"))
        else:
            raise invalid_request(f"{where}[{j}] needs an image_url or a file_id.", f"{where}[{j}].image_url")
    return blocks
