"""Chat Completions wire models of `custom` tools (free-text input: dialects/custom_tools.py), their
calls, and a tool_choice naming one. No logic."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ...core.wire import ToolName, Wire


class NamedFunction(Wire):
    name: str


class CustomTextFormat(Wire):
    type: Literal["text"]


class Grammar(Wire):
    definition: str
    syntax: Literal["lark", "regex"]


class CustomGrammarFormat(Wire):
    type: Literal["grammar"]
    grammar: Grammar


class CustomDefinition(Wire):
    name: ToolName
    description: str | None = None
    format: Annotated[CustomTextFormat | CustomGrammarFormat, Field(discriminator="type")] | None = None


class CustomTool(Wire):  # free-text input (dialects/custom_tools.py)
    type: Literal["custom"]
    custom: CustomDefinition


class CustomCall(Wire):
    name: str
    input: str  # the raw text input


class CustomToolCall(Wire):  # a call of a custom tool (dialects/custom_tools.py)
    id: str
    type: Literal["custom"]
    custom: CustomCall


class NamedCustomChoice(Wire):
    type: Literal["custom"]
    custom: NamedFunction
