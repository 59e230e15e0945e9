"""Anthropic Messages request -> the gateway's Turn. Pure functions, no I/O.

The answer's side, events -> a message or its stream events, is in outbound.py.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import invalid_request
from ...core.hosted import WEB_FETCH, WEB_SEARCH, Hosted, RemoteServer, WebRules
from ...core.messages import Block, Message, ToolSpec, left_out
from ...core.turn import Turn
from ..documents import document_block
from ..remote_mcp import bearer, checked_label, checked_url, transport, unique
from ..request_rules import (
    CLAUDE_SAMPLING,
    add_blocks,
    append_message,
    base64_image,
    clamped_limits,
    forced_tool,
    ignored,
    output_limit,
    require_content,
    require_user_last,
    system_prompt,
    text_blocks,
    tool_result,
    tool_spec,
    url_image,
)
from . import claude_code, defined_tools, tool_search
from . import wire as am

# Accepted, not applied (see dialects/openai_chat/inbound.py), each with its no-op values: Claude's defaults.
UNAPPLIED: dict[str, tuple[object, ...]] = {**CLAUDE_SAMPLING, "top_k": (), "service_tier": ("auto",)}


def ignored_parameters(request: am.MessagesRequest) -> list[str]:
    found = clamped_limits(max_tokens=request.max_tokens) + tool_search.deferrals(request.tools or [])[1]
    if request.tools and request.tool_choice and request.tool_choice.disable_parallel_tool_use:
        found.append("tool_choice.disable_parallel_tool_use")
    if request.thinking is not None:
        found += [f"thinking.{name}" for name in sorted(request.thinking.model_extra or {})]
    if request.output_config is not None:
        found += [f"output_config.{name}" for name in sorted(request.output_config.model_extra or {})]
    for i, tool in enumerate(request.tools or []):
        if isinstance(tool, am.ServerTool):  # what Claude Code's WebSearch and WebFetch cannot take
            unapplied = ("user_location", "citations", "max_content_tokens")
            found += [f"tools[{i}].{name}" for name in unapplied if getattr(tool, name) is not None]
    return ignored(request, UNAPPLIED, found)


def _hosted(tools: list[am.AnyTool], servers: list[am.McpServer]) -> Hosted:
    """The request's web search and web fetch, with their limits, and its remote MCP servers."""
    found: dict[str, WebRules] = {}
    for tool in tools:
        if isinstance(tool, am.ServerTool):
            rules = WebRules(tuple(tool.allowed_domains or ()), tuple(tool.blocked_domains or ()), tool.max_uses)
            found[WEB_FETCH if tool.type.startswith(WEB_FETCH) else WEB_SEARCH] = rules
    return Hosted(**found, mcp=remote_servers(servers))


def _forced_tool(request: am.MessagesRequest, offered: bool) -> str | None:
    """tool_choice "any" or a named tool (request_rules.forced_tool)."""
    choice = request.tool_choice
    named = choice.name or "" if choice is not None and choice.type == "tool" else None
    return forced_tool(offered, choice is not None and choice.type == "any", named)


def to_turn(request: am.MessagesRequest, model: str | None, tenant: str, request_id: str) -> Turn:
    messages: list[Message] = []
    system = [block.text for block in request.system] if isinstance(request.system, list) else [request.system]
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if message.role == "system":  # system text within the conversation: the system prompt gets it
            system.append(_system_text(message, where))
            continue
        blocks = _blocks(message, where)
        if message.role == "user" and not blocks and _only_activity(message):
            continue  # tools that ran without the client: nothing for Claude
        append_message(messages, message.role, require_content(blocks, where) if message.role == "user" else blocks)
    require_user_last(messages, "messages")
    hidden = request.tool_choice is not None and request.tool_choice.type == "none"
    searching = tool_search.deferrals(request.tools or [])[0]
    offered = [tool for tool in request.tools or [] if isinstance(tool, (am.Tool, am.DefinedTool))]
    tools = () if hidden else tuple(_spec(tool, searching and bool(tool.defer_loading)) for tool in offered)
    forced = _forced_tool(request, bool(tools))
    return Turn(
        model=model,
        messages=messages,
        system=system_prompt(system, forced),
        forced_tool=forced,
        max_output_tokens=output_limit(request.max_tokens),
        tenant=tenant,
        request_id=request_id,
        stop=[s for s in request.stop_sequences or [] if s],
        user=claude_code.user(request.metadata.user_id) if request.metadata else None,
        tools=tools,
        thinking=_thinking(request.thinking),
        effort=request.output_config.effort if request.output_config else None,
        hosted=Hosted() if hidden else _hosted(request.tools or [], request.mcp_servers or []),
    )


def remote_servers(servers: list[am.McpServer]) -> tuple[RemoteServer, ...]:
    """The request's `mcp_servers` (dialects/remote_mcp.py); one whose tools are not `enabled` is left out."""
    found = []
    for i, server in enumerate(servers):
        config = server.tool_configuration or am.McpToolConfiguration()
        allowed = config.allowed_tools
        found.append(
            RemoteServer(
                label=checked_label(server.name, f"mcp_servers[{i}].name"),
                url=(url := checked_url(server.url, f"mcp_servers[{i}].url")),
                transport=transport(url),
                headers=bearer(server.authorization_token, {}),
                allowed_tools=tuple(allowed) if allowed is not None else None,
            )
        )
    unique(found, "mcp_servers")
    return tuple(s for s, given in zip(found, servers, strict=True) if not _disabled(given))


def _disabled(server: am.McpServer) -> bool:
    return server.tool_configuration is not None and server.tool_configuration.enabled is False


def _spec(tool: am.Tool | am.DefinedTool, deferred: bool) -> ToolSpec:
    """A client tool as Claude is offered it: its own schema, or the one Anthropic defines for it;
    `deferred`: out of view until Claude's tool search finds it (tool_search.py)."""
    if isinstance(tool, am.DefinedTool):
        description, schema = defined_tools.offered(tool.type, tool.description, tool.model_extra or {})
        return tool_spec(tool.name, description, schema, deferred)
    return tool_spec(tool.name, tool.description, tool.input_schema, deferred)


def _thinking(thinking: am.Thinking | None) -> dict[str, Any] | None:
    """Claude Code's thinking setting: the known fields only (each becomes a command-line flag);
    unknown ones are named in the ignored-parameters header instead."""
    if thinking is None:
        return None
    return thinking.model_dump(exclude_none=True, exclude=set(thinking.model_extra or {}))


def _blocks(message: am.MessageParam, where: str) -> list[Block]:
    if isinstance(message.content, str):
        return text_blocks(message.content)
    blocks: list[Block] = []
    gap: str | None = None  # the blocks before were left out: what joins the next text (left_out)
    for j, block in enumerate(message.content):
        if isinstance(block, am.TextBlock):
            add_blocks(blocks, text_blocks(block.text), joined=gap if message.role == "assistant" else None)
        elif isinstance(block, am.ImageBlock):
            blocks.append(_image(block, f"{where}.content[{j}].source"))
        elif isinstance(block, am.DocumentBlock):
            source = block.source.model_dump(exclude=set(block.source.model_extra or {}))
            blocks.append(document_block(source, block.title, block.context, f"{where}.content[{j}].source"))
        elif isinstance(block, am.ToolUseBlock):
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif isinstance(block, am.ToolResultBlock):
            blocks.append(tool_result(block.tool_use_id, _result_content(block, f"{where}.content[{j}]")))
        # Left out: thinking blocks of earlier answers (their signatures are Anthropic's), and tools
        # that ran without the client (Claude Code's own, in agent mode): Claude Code ran them.
        skipped = isinstance(block, (am.ThinkingBlock, am.RedactedThinkingBlock, am.ActivityBlock))
        gap = left_out(gap, isinstance(block, am.ActivityBlock)) if skipped else None
    return blocks


def _system_text(message: am.MessageParam, where: str) -> str:
    """A system message's text; only text blocks make one (as in `system`)."""
    if isinstance(message.content, str):
        return message.content
    for j, block in enumerate(message.content):
        if not isinstance(block, am.TextBlock):
            param = f"{where}.content[{j}].type"
            raise invalid_request(f"A system message holds only text blocks, not '{block.type}'.", param)
    return "\n\n".join(block.text for block in message.content if isinstance(block, am.TextBlock))


def _only_activity(message: am.MessageParam) -> bool:
    content = message.content
    return isinstance(content, list) and bool(content) and all(isinstance(b, am.ActivityBlock) for b in content)


def _image(block: am.ImageBlock, param: str) -> Block:
    """The image with only the fields Claude reads (a source's unknown fields are not passed on),
    under the same rules as on the OpenAI doors."""
    source = block.source
    if isinstance(source, am.URLSource):
        return url_image(source.url, f"{param}.url")
    return base64_image(source.media_type, source.data, f"{param}.data", f"{param}.media_type")


def _result_content(block: am.ToolResultBlock, where: str) -> str | list[Block]:
    """A tool result's text (marked as an error where it is one), and its images."""
    if isinstance(block.content, str) or block.content is None:
        return f"Error: {block.content or ''}" if block.is_error else block.content or ""
    parts: list[Block] = []
    for k, part in enumerate(block.content):
        if isinstance(part, am.TextBlock):
            parts.append({"type": "text", "text": part.text})
        else:
            parts.append(_image(part, f"{where}.content[{k}].source"))
    if block.is_error:
        parts.insert(0, {"type": "text", "text": "Error:"})
    return parts
