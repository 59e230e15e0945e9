"""Anthropic Messages API wire models: what a request may hold. No logic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from ...agent.request import ClaudeCodeRequest
from ...core.wire import MAX_TOOLS, SESSION_ID_PATTERN, ModelName, ToolName, Wire
from ..tool_types import is_server_tool, refuse_unserved
from .defined_tools import is_defined
from .tool_search import is_search


class Base64Source(Wire):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(Wire):
    type: Literal["url"]
    url: str


class TextBlock(Wire):
    type: Literal["text"]
    text: str


class ImageBlock(Wire):
    type: Literal["image"]
    source: Annotated[Base64Source | URLSource, Field(discriminator="type")]


class PlainTextSource(Wire):
    type: Literal["text"]
    media_type: Literal["text/plain"] = "text/plain"
    data: str


class DocumentBlock(Wire):
    """A PDF (base64 or URL) or plain text; an uploaded file's `file` source is resolved to one
    before parsing (app/files/resolve.py)."""

    type: Literal["document"]
    source: Annotated[Base64Source | PlainTextSource | URLSource, Field(discriminator="type")]
    title: str | None = None
    context: str | None = None


class ToolUseBlock(Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] | None = None
    is_error: bool | None = None


class ThinkingBlock(Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(Wire):
    type: Literal["redacted_thinking"]
    data: str


class ActivityBlock(Wire):
    """A tool that ran without the client, as an earlier answer reported it (Claude Code's own in
    agent mode, an MCP server's, or a server tool's) and the client sent back: never passed on."""

    type: Literal[
        "mcp_tool_use",
        "mcp_tool_result",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "tool_search_tool_result",  # Anthropic's tool search (tool_search.py; not one the gateway shows)
    ]


ContentBlock = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ActivityBlock,
    Field(discriminator="type"),
]


class MessageParam(Wire):
    # "system": system text at that point of the conversation, as Claude Code sends its environment
    # (inbound.py: it joins the system prompt).
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]


class Tool(Wire):
    name: ToolName
    description: str | None = None
    input_schema: dict[str, Any]
    type: Literal["custom"] | None = None
    defer_loading: bool | None = None  # out of view until a tool search finds it (tool_search.py)


class DefinedTool(Wire):
    """An Anthropic-defined client tool (defined_tools.py): its type, the client's name for it, and
    its options (display size, max_characters) as extra fields."""

    type: str
    name: ToolName
    description: str | None = None
    defer_loading: bool | None = None


class ToolSearchTool(Wire):
    """Anthropic's tool search tool (tool_search.py): the request's deferred tools are searched."""

    type: str
    name: ToolName


class ServerTool(Wire):
    """Anthropic's web search or web fetch (`web_search_20250305`, `web_fetch_20250910` and later),
    served by Claude Code's WebSearch and WebFetch (core/hosted.py)."""

    type: str
    name: str
    max_uses: int | None = Field(default=None, ge=1)
    allowed_domains: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = Field(
        default=None, max_length=100
    )
    blocked_domains: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = Field(
        default=None, max_length=100
    )
    user_location: dict[str, Any] | None = None
    citations: dict[str, Any] | None = None  # web fetch
    max_content_tokens: int | None = Field(default=None, ge=1)  # web fetch

    @model_validator(mode="after")
    def _one_filter(self) -> ServerTool:
        if self.allowed_domains and self.blocked_domains:  # as Anthropic refuses it
            raise ValueError("Use either allowed_domains or blocked_domains, not both.")
        return self


def _tool_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if is_server_tool(kind):
        return "server"
    return "defined" if is_defined(kind) else "search" if is_search(kind) else "custom"


AnyTool = Annotated[
    Annotated[Tool, Tag("custom")]
    | Annotated[DefinedTool, Tag("defined")]
    | Annotated[ServerTool, Tag("server")]
    | Annotated[ToolSearchTool, Tag("search")],
    Discriminator(_tool_kind),
]


class ToolChoice(Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class ThinkingEnabled(Wire):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1024)
    display: Literal["summarized", "omitted"] | None = None


class ThinkingDisabled(Wire):
    type: Literal["disabled"]


class ThinkingAdaptive(Wire):
    type: Literal["adaptive"]
    display: Literal["summarized", "omitted"] | None = None


Thinking = Annotated[ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive, Field(discriminator="type")]


class Metadata(Wire):
    # A string, or as Claude Code sends it, a JSON object (in a string, or as is) naming its
    # session (claude_code.py).
    user_id: str | dict[str, Any] | None = None


class OutputConfig(Wire):
    """Claude's effort (Claude Code sends it on every request); other fields are named as ignored."""

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None


class McpToolConfiguration(Wire):
    enabled: bool | None = None  # false: none of the server's tools
    allowed_tools: list[str] | None = None


class McpServer(Wire):
    """A remote MCP server (the `mcp-client` beta's MCP connector), served by Claude Code's MCP client
    (dialects/remote_mcp.py)."""

    type: Literal["url"]
    url: str
    name: str
    authorization_token: str | None = None
    tool_configuration: McpToolConfiguration | None = None


class MessagesRequest(Wire):
    model: ModelName
    max_tokens: int = Field(ge=1)  # required, as Anthropic requires it
    messages: list[MessageParam] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[AnyTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = False
    thinking: Thinking | None = None
    metadata: Metadata | None = None
    output_config: OutputConfig | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    service_tier: str | None = None
    mcp_servers: list[McpServer] | None = Field(default=None, max_length=MAX_TOOLS)
    # Gateway extension, as on /v1/chat/completions.
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    # Gateway extension: agent mode (app/agent/request.py).
    claude_code: ClaudeCodeRequest | None = None

    @model_validator(mode="before")
    @classmethod
    def _served_tools(cls, data: Any) -> Any:
        return refuse_unserved(data, "anthropic")


class CountTokensRequest(Wire):
    model: ModelName
    messages: list[MessageParam] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[AnyTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None

    @model_validator(mode="before")
    @classmethod
    def _served_tools(cls, data: Any) -> Any:
        return refuse_unserved(data, "anthropic")
