"""OpenAI Responses API wire models: what a request may hold. No logic."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from .openai_chat import MAX_TOOLS, ModelName


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionTool(_Wire):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class NamedFunction(_Wire):
    type: Literal["function"]
    name: str


class TextFormat(_Wire):
    type: Literal["text", "json_schema", "json_object"]
    name: Optional[str] = None
    schema_: Optional[dict[str, Any]] = Field(default=None, alias="schema")
    strict: Optional[bool] = None


class TextConfig(_Wire):
    format: Optional[TextFormat] = None


class Reasoning(_Wire):
    effort: Optional[str] = None


class ResponsesRequest(_Wire):
    model: ModelName
    # A string, or items: messages ({role, content}), function_call, function_call_output.
    input: Union[str, list[dict[str, Any]]]
    instructions: Optional[str] = None
    tools: Optional[list[FunctionTool]] = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Union[Literal["none", "auto", "required"], NamedFunction, None] = None
    max_output_tokens: Optional[int] = Field(default=None, ge=1)
    text: Optional[TextConfig] = None
    previous_response_id: Optional[str] = None
    store: Optional[bool] = True
    stream: Optional[bool] = False
    reasoning: Optional[Reasoning] = None
    metadata: Optional[dict[str, str]] = None
    user: Optional[str] = None
    parallel_tool_calls: Optional[bool] = None
    temperature: Optional[float] = Field(default=None, ge=0, le=2)
    top_p: Optional[float] = Field(default=None, ge=0, le=1)
    truncation: Optional[str] = None
    service_tier: Optional[str] = None
    include: Optional[list[str]] = None
