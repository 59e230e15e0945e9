"""OpenAI Chat Completions wire models: what a request may hold and what a response holds.

Requests validate what OpenAI validates (roles, part types, ranges). Unknown top-level fields are
kept, not rejected, so clients that send vendor extensions keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# The model name and the client's function names reach Claude Code's command line, where one
# argument may hold 128 KiB and all of them about 2 MiB (E2BIG beyond), readable in `ps`: a model
# name longer than any real one, or more functions than OpenAI accepts, is refused up front.
MAX_MODEL_NAME = 256
MAX_TOOLS = 128
ModelName = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_NAME)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class ImageURL(_Wire):
    url: str
    detail: Optional[Literal["auto", "low", "high"]] = None


class ImagePart(_Wire):
    type: Literal["image_url"]
    image_url: ImageURL


class RefusalPart(_Wire):
    type: Literal["refusal"]
    refusal: str


UserPart = Annotated[Union[TextPart, ImagePart], Field(discriminator="type")]
AssistantPart = Annotated[Union[TextPart, RefusalPart], Field(discriminator="type")]


class FunctionCall(_Wire):
    name: str
    arguments: str


class ToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Wire):
    role: Literal["system"]
    content: Union[str, list[TextPart]]
    name: Optional[str] = None


class DeveloperMessage(_Wire):
    role: Literal["developer"]
    content: Union[str, list[TextPart]]
    name: Optional[str] = None


class UserMessage(_Wire):
    role: Literal["user"]
    content: Union[str, list[UserPart]]
    name: Optional[str] = None


class AssistantMessage(_Wire):
    role: Literal["assistant"]
    content: Union[str, list[AssistantPart], None] = None
    name: Optional[str] = None
    refusal: Optional[str] = None
    tool_calls: Optional[list[ToolCall]] = None
    function_call: Optional[FunctionCall] = None  # legacy


class ToolMessage(_Wire):
    role: Literal["tool"]
    content: Union[str, list[TextPart]]
    tool_call_id: str


class FunctionMessage(_Wire):  # legacy form of a tool message
    role: Literal["function"]
    name: str
    content: Optional[str] = None


ChatMessage = Annotated[
    Union[SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage, FunctionMessage],
    Field(discriminator="role"),
]


class FunctionDefinition(_Wire):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class FunctionTool(_Wire):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Wire):
    name: str


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaSpec(_Wire):
    name: Optional[str] = None
    description: Optional[str] = None
    schema_: Optional[dict[str, Any]] = Field(default=None, alias="schema")
    strict: Optional[bool] = None


class TextFormat(_Wire):
    type: Literal["text"]


class JSONObjectFormat(_Wire):
    type: Literal["json_object"]


class JSONSchemaFormat(_Wire):
    type: Literal["json_schema"]
    json_schema: JSONSchemaSpec


ResponseFormat = Annotated[Union[TextFormat, JSONObjectFormat, JSONSchemaFormat], Field(discriminator="type")]


class StreamOptions(_Wire):
    include_usage: Optional[bool] = None


class ChatCompletionRequest(_Wire):
    model: ModelName
    messages: list[ChatMessage] = Field(min_length=1)
    stream: Optional[bool] = False
    stream_options: Optional[StreamOptions] = None
    max_tokens: Optional[int] = Field(default=None, ge=1)
    max_completion_tokens: Optional[int] = Field(default=None, ge=1)
    user: Optional[str] = None
    n: Optional[int] = Field(default=None, ge=1, le=128)
    stop: Union[str, list[str], None] = None
    temperature: Optional[float] = Field(default=None, ge=0, le=2)
    top_p: Optional[float] = Field(default=None, ge=0, le=1)
    presence_penalty: Optional[float] = Field(default=None, ge=-2, le=2)
    frequency_penalty: Optional[float] = Field(default=None, ge=-2, le=2)
    logit_bias: Optional[dict[str, float]] = None
    logprobs: Optional[bool] = None
    top_logprobs: Optional[int] = Field(default=None, ge=0, le=20)
    seed: Optional[int] = None
    response_format: Optional[ResponseFormat] = None
    tools: Optional[list[FunctionTool]] = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Union[Literal["none", "auto", "required"], NamedToolChoice, None] = None
    functions: Optional[list[FunctionDefinition]] = Field(default=None, max_length=MAX_TOOLS)  # legacy tools
    function_call: Union[Literal["none", "auto"], NamedFunction, None] = None  # legacy tool_choice
    parallel_tool_calls: Optional[bool] = None
    reasoning_effort: Optional[str] = None
    metadata: Optional[dict[str, str]] = None
    store: Optional[bool] = None
    service_tier: Optional[str] = None
    prediction: Optional[dict[str, Any]] = None
    audio: Optional[dict[str, Any]] = None
    modalities: Optional[list[str]] = None
    web_search_options: Optional[dict[str, Any]] = None
    # Gateway extension: continue a kept conversation, sending only new messages.
    session_id: Optional[str] = Field(default=None, min_length=1, max_length=128, pattern=SESSION_ID_PATTERN)


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
    content: Optional[str] = None
    refusal: Optional[str] = None
    tool_calls: Optional[list[ToolCall]] = None
    function_call: Optional[FunctionCall] = None  # legacy
    reasoning_content: Optional[str] = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Optional[str] = None
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: Optional[str] = None


class ChunkDelta(BaseModel):
    role: Optional[Literal["assistant"]] = None
    content: Optional[str] = None
    reasoning_content: Optional[str] = None
    tool_calls: Optional[list[dict[str, Any]]] = None
    function_call: Optional[dict[str, str]] = None  # legacy


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "anthropic"
    display_name: Optional[str] = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
