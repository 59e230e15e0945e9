"""OpenAI Responses API wire models: what a request may hold. No logic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from ...agent.request import ClaudeCodeRequest
from ...core.wire import MAX_TOOLS, ModelName, ToolName, Wire
from ..tool_types import refuse_unserved
from . import tool_wire as tw


# --- input items ------------------------------------------------------------------------------
class InputText(Wire):
    type: Literal["input_text"]
    text: str


class OutputText(Wire):  # an earlier answer's text, sent back
    type: Literal["output_text"]
    text: str


class PlainText(Wire):
    type: Literal["text"]
    text: str


class Refusal(Wire):
    type: Literal["refusal"]
    refusal: str


class InputImage(Wire):
    type: Literal["input_image"]
    image_url: str | None = None  # a data: or http(s) URL; an uploaded file's file_id becomes one
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class InputFile(Wire):
    type: Literal["input_file"]
    file_data: str | None = None  # a data: URL; an uploaded file's file_id becomes one before parsing
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


ContentPart = Annotated[
    InputText | OutputText | PlainText | Refusal | InputImage | InputFile, Field(discriminator="type")
]


class MessageItem(Wire):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]


class FunctionCallItem(Wire):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str  # JSON text, as the model wrote it
    namespace: str | None = None  # the namespace tool the function belongs to (namespaces.py)


class FunctionCallOutputItem(Wire):  # a custom tool's output is the same shape
    type: Literal["function_call_output", "custom_tool_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[ContentPart]


class ReasoningItem(Wire):  # an earlier answer's reasoning, sent back (and not passed on)
    type: Literal["reasoning"]


class ActivityItem(Wire):
    """A tool Claude Code ran itself (agent mode), as an earlier response reported it (an mcp_call
    item; a claude_code_call item is taken too) and the client sent back: never passed on, the
    gateway ran it."""

    # tool_search_*: OpenAI's tool search, as its API shows it (the gateway shows none: the search
    # runs inside Claude Code).
    type: Literal["mcp_call", "claude_code_call", "web_search_call", "tool_search_call", "tool_search_output"]


class McpListToolsItem(Wire):
    """An earlier response's list of a remote MCP server's tools, sent back: not passed on, and not
    listed again in this conversation (as OpenAI does)."""

    type: Literal["mcp_list_tools"]
    server_label: str = ""


class McpApprovalRequestItem(Wire):
    """An earlier response's request for approval of a remote MCP call, sent back."""

    type: Literal["mcp_approval_request"]
    id: str = Field(min_length=1)
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(Wire):
    """The client's answer to an approval request: the call runs, or Claude is told it was refused."""

    type: Literal["mcp_approval_response"]
    approval_request_id: str = Field(min_length=1)
    approve: bool
    reason: str | None = None


def _item_type(item: Any) -> str | None:
    """An item's type; a bare {"role", "content"} is a message, as OpenAI accepts it."""
    if isinstance(item, dict):
        return item.get("type", "message" if "role" in item else None)
    return getattr(item, "type", None)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[FunctionCallOutputItem, Tag("custom_tool_call_output")]
    | Annotated[tw.CustomToolCallItem, Tag("custom_tool_call")]
    | Annotated[tw.LocalShellCallItem, Tag("local_shell_call")]
    | Annotated[tw.LocalShellCallOutputItem, Tag("local_shell_call_output")]
    | Annotated[tw.ShellCallItem, Tag("shell_call")]
    | Annotated[tw.ShellCallOutputItem, Tag("shell_call_output")]
    | Annotated[tw.ApplyPatchCallItem, Tag("apply_patch_call")]
    | Annotated[tw.ApplyPatchCallOutputItem, Tag("apply_patch_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[ActivityItem, Tag("mcp_call")]
    | Annotated[ActivityItem, Tag("claude_code_call")]
    | Annotated[ActivityItem, Tag("web_search_call")]
    | Annotated[ActivityItem, Tag("tool_search_call")]
    | Annotated[ActivityItem, Tag("tool_search_output")]
    | Annotated[McpListToolsItem, Tag("mcp_list_tools")]
    | Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")],
    Discriminator(_item_type),
]


# --- tools and options ------------------------------------------------------------------------


class FunctionTool(Wire):
    type: Literal["function"]
    name: ToolName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None  # found by tool search only (ToolSearchTool)


class NamespaceTool(Wire):
    """A named group of functions (namespaces.py)."""

    type: Literal["namespace"]
    name: ToolName
    description: str | None = None
    tools: list[FunctionTool] = Field(min_length=1, max_length=MAX_TOOLS)
    defer_loading: bool | None = None  # each of its functions


class ToolSearchTool(Wire):
    """OpenAI's tool search: the functions marked `defer_loading` are loaded when Claude searches for
    them, with Claude Code's ToolSearch (anthropic_messages/tool_search.py says how). Run by the
    gateway; a search the client runs itself (`execution: "client"`) is refused (tool_types.py)."""

    type: Literal["tool_search"]
    execution: Literal["server"] | None = None


class McpToolFilter(Wire):
    tool_names: list[str] | None = None
    read_only: bool | None = None  # not known from a server's tools: named as ignored


class McpApprovalFilter(Wire):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(Wire):
    """A remote MCP server, served by Claude Code's MCP client (dialects/remote_mcp.py)."""

    type: Literal["mcp"]
    server_label: str
    server_url: str | None = None
    connector_id: str | None = None  # OpenAI's connectors: not served (a 400)
    authorization: str | None = None  # an OAuth access token, sent as a bearer token
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    server_description: str | None = None


class SearchFilters(Wire):
    allowed_domains: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = Field(
        default=None, max_length=100
    )


class WebSearchTool(Wire):
    """OpenAI's hosted web search, served by Claude Code's WebSearch (core/hosted.py)."""

    type: Literal["web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"]
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: dict[str, Any] | None = None
    filters: SearchFilters | None = None
    # Codex sends false: results from the search index only, no live page loads, which is what
    # Claude Code's WebSearch gives (pages are read by WebFetch, a tool of its own).
    external_web_access: bool | None = None


AnyTool = Annotated[
    FunctionTool
    | NamespaceTool
    | WebSearchTool
    | ToolSearchTool
    | tw.CustomTool
    | tw.LocalShellTool
    | tw.ShellTool
    | tw.ApplyPatchTool
    | McpTool,
    Field(discriminator="type"),
]
ClientTool = tw.CustomTool | tw.LocalShellTool | tw.ShellTool | tw.ApplyPatchTool  # served as functions


class NamedFunction(Wire):
    type: Literal["function"]
    name: str


class TextFormat(Wire):
    type: Literal["text", "json_schema", "json_object"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(Wire):
    format: TextFormat | None = None


class Reasoning(Wire):
    effort: str | None = None


class ResponsesRequest(Wire):
    model: ModelName
    # A string, or items: messages ({role, content}), function_call, function_call_output, reasoning,
    # the client-run tools' calls and outputs (tool_wire.py), and the tools Claude Code ran itself
    # (mcp_call items) as a response gave them.
    input: str | list[InputItem]
    instructions: str | None = None
    tools: list[AnyTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["none", "auto", "required"] | NamedFunction | tw.NamedCustom | tw.NamedBuiltIn | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    text: TextConfig | None = None
    previous_response_id: str | None = None
    store: bool | None = True
    stream: bool | None = False
    reasoning: Reasoning | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    truncation: str | None = None
    service_tier: str | None = None
    include: list[str] | None = None
    # Gateway extension: agent mode (app/agent/request.py).
    claude_code: ClaudeCodeRequest | None = None

    @model_validator(mode="before")
    @classmethod
    def _served_tools(cls, data: Any) -> Any:
        return refuse_unserved(data, "responses")
