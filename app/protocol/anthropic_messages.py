"""Anthropic Messages API wire models: what a request may hold. No logic."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from .openai_chat import MAX_TOOLS, SESSION_ID_PATTERN, ModelName


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Base64Source(_Wire):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(_Wire):
    type: Literal["url"]
    url: str


class TextBlock(_Wire):
    type: Literal["text"]
    text: str


class ImageBlock(_Wire):
    type: Literal["image"]
    source: Annotated[Union[Base64Source, URLSource], Field(discriminator="type")]


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: Union[str, list[Annotated[Union[TextBlock, ImageBlock], Field(discriminator="type")]], None] = None
    is_error: Optional[bool] = None


class ThinkingBlock(_Wire):
    type: Literal["thinking"]
    thinking: str
    signature: Optional[str] = None


class RedactedThinkingBlock(_Wire):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    Union[TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock],
    Field(discriminator="type"),
]


class MessageParam(_Wire):
    role: Literal["user", "assistant"]
    content: Union[str, list[ContentBlock]]


class Tool(_Wire):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Optional[str] = None
    input_schema: dict[str, Any]
    type: Optional[Literal["custom"]] = None


class ToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: Optional[str] = None
    disable_parallel_tool_use: Optional[bool] = None


class ThinkingEnabled(_Wire):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1024)
    display: Optional[Literal["summarized", "omitted"]] = None


class ThinkingDisabled(_Wire):
    type: Literal["disabled"]


class ThinkingAdaptive(_Wire):
    type: Literal["adaptive"]
    display: Optional[Literal["summarized", "omitted"]] = None


class Metadata(_Wire):
    user_id: Optional[str] = None


class MessagesRequest(_Wire):
    model: ModelName
    max_tokens: int = Field(ge=1)  # required, as Anthropic requires it
    messages: list[MessageParam] = Field(min_length=1)
    system: Union[str, list[TextBlock], None] = None
    tools: Optional[list[Tool]] = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Optional[ToolChoice] = None
    stop_sequences: Optional[list[str]] = None
    stream: Optional[bool] = False
    thinking: Optional[Annotated[Union[ThinkingEnabled, ThinkingDisabled, ThinkingAdaptive], Field(discriminator="type")]] = None
    metadata: Optional[Metadata] = None
    temperature: Optional[float] = Field(default=None, ge=0, le=1)
    top_p: Optional[float] = Field(default=None, ge=0, le=1)
    top_k: Optional[int] = Field(default=None, ge=0)
    service_tier: Optional[str] = None
    # Gateway extension, as on /v1/chat/completions.
    session_id: Optional[str] = Field(default=None, pattern=SESSION_ID_PATTERN)


class CountTokensRequest(_Wire):
    model: ModelName
    messages: list[MessageParam] = Field(min_length=1)
    system: Union[str, list[TextBlock], None] = None
    tools: Optional[list[Tool]] = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Optional[ToolChoice] = None
    thinking: Optional[Annotated[Union[ThinkingEnabled, ThinkingDisabled, ThinkingAdaptive], Field(discriminator="type")]] = None
