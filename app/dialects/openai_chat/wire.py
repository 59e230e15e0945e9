"""OpenAI Chat Completions wire models: what a request may hold and what a response holds.

Requests validate what OpenAI validates (roles, part types, ranges). Unknown top-level fields are
kept, not rejected, so clients that send vendor extensions keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from ...agent.request import ClaudeCodeRequest
from ...core.wire import MAX_TOOLS, SESSION_ID_PATTERN, ModelName, ToolName, Wire
from ..tool_types import refuse_unserved
from .tool_wire import CustomTool, CustomToolCall, NamedCustomChoice, NamedFunction


class TextPart(Wire):
    type: Literal["text"]
    text: str


class ImageURL(Wire):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Wire):
    type: Literal["image_url"]
    image_url: ImageURL


class FileData(Wire):
    file_data: str | None = None  # a data: URL; an uploaded file's file_id becomes one before parsing
    file_id: str | None = None
    filename: str | None = None


class FilePart(Wire):
    type: Literal["file"]
    file: FileData


class RefusalPart(Wire):
    type: Literal["refusal"]
    refusal: str


UserPart = Annotated[TextPart | ImagePart | FilePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class FunctionCall(Wire):
    name: str
    arguments: str


class ToolCall(Wire):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


AnyToolCall = Annotated[
    Annotated[ToolCall, Tag("function")] | Annotated[CustomToolCall, Tag("custom")],
    Discriminator(
        lambda call: (call.get("type") if isinstance(call, dict) else getattr(call, "type", None)) or "function"
    ),
]


class SystemMessage(Wire):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(Wire):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(Wire):
    role: Literal["user"]
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(Wire):
    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[AnyToolCall] | None = None
    function_call: FunctionCall | None = None  # legacy
    # Agent mode: the tools Claude Code ran, as the answer reported them; never passed on.
    claude_code_events: list[dict[str, Any]] | None = None


class ToolMessage(Wire):
    role: Literal["tool"]
    content: str | list[UserPart]  # images too: a function's result may show something
    tool_call_id: str


class FunctionMessage(Wire):  # legacy form of a tool message
    role: Literal["function"]
    name: str
    content: str | None = None


ChatMessage = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDefinition(Wire):
    name: ToolName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(Wire):
    type: Literal["function"]
    function: FunctionDefinition


class NamedToolChoice(Wire):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaSpec(Wire):
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(Wire):
    type: Literal["text"]


class JSONObjectFormat(Wire):
    type: Literal["json_object"]


class JSONSchemaFormat(Wire):
    type: Literal["json_schema"]
    json_schema: JSONSchemaSpec


ResponseFormat = Annotated[TextFormat | JSONObjectFormat | JSONSchemaFormat, Field(discriminator="type")]


class StreamOptions(Wire):
    include_usage: bool | None = None


class WebSearchOptions(Wire):
    """Chat Completions' web search, served by Claude Code's WebSearch (core/hosted.py)."""

    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: dict[str, Any] | None = None


class ChatCompletionRequest(Wire):
    model: ModelName
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    user: str | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    stop: str | list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    response_format: ResponseFormat | None = None
    tools: list[Annotated[FunctionTool | CustomTool, Field(discriminator="type")]] | None = Field(
        default=None, max_length=MAX_TOOLS
    )
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | NamedCustomChoice | None = None
    functions: list[FunctionDefinition] | None = Field(default=None, max_length=MAX_TOOLS)  # legacy tools
    function_call: Literal["none", "auto"] | NamedFunction | None = None  # legacy tool_choice
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prediction: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    web_search_options: WebSearchOptions | None = None
    # Gateway extension: continue a kept conversation, sending only new messages.
    session_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=SESSION_ID_PATTERN)
    # Gateway extension: agent mode (app/agent/request.py).
    claude_code: ClaudeCodeRequest | None = None

    @model_validator(mode="before")
    @classmethod
    def _served_tools(cls, data: Any) -> Any:
        return refuse_unserved(data, "chat")


# --- responses ------------------------------------------------------------------------------
class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall | CustomToolCall] | None = None
    function_call: FunctionCall | None = None  # legacy
    reasoning_content: str | None = None
    # Agent mode: the tools Claude Code ran (dialects/activity.py).
    claude_code_events: list[dict[str, Any]] | None = None
    annotations: list[dict[str, Any]] | None = None  # the pages a web search found, where cited


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: str | None = None
    claude_code_limit: str | None = None  # agent mode: the limit the run ended at (max_turns, ...)


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "anthropic"
    display_name: str | None = None
    # Beyond OpenAI's four fields, what agent clients ask a model list for (clients that read only
    # OpenAI's fields ignore them): how many tokens it takes, the `reasoning.effort` values it takes,
    # and whether it reads images.
    context_window: int | None = None
    reasoning_efforts: list[str] | None = None
    input_modalities: list[str] | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
