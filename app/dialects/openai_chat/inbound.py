"""OpenAI Chat Completions request -> the gateway's Turn. Pure functions, no I/O.

The answer's side, events -> a completion or its chunks, is in outbound.py.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import invalid_request
from ...core.hosted import Hosted, WebRules
from ...core.messages import Block, Message, ToolSpec
from ...core.turn import Turn
from .. import custom_tools
from ..documents import file_block
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
    require_content,
    system_prompt,
    text_blocks,
    tool_call,
    tool_result,
    tool_spec,
)
from . import custom_calls
from . import tool_wire as ct
from . import wire as oa

# Accepted, but Claude Code has no way to apply them: reported in a response header, or refused
# in strict mode. Each with its no-op values, OpenAI's defaults, which Claude does anyway.
UNAPPLIED: dict[str, tuple[object, ...]] = {
    **CLAUDE_SAMPLING,
    "seed": (),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logit_bias": ({},),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "service_tier": ("auto",),  # Anthropic's default too
    "store": (False,),  # nothing is stored for OpenAI's evals or distillation
    "prediction": (),
    "audio": (),
    "modalities": (["text"],),
}


def ignored_parameters(request: oa.ChatCompletionRequest) -> list[str]:
    """The request's parameters that will not be applied, OpenAI's and unknown ones alike."""
    found = clamped_limits(max_tokens=request.max_tokens, max_completion_tokens=request.max_completion_tokens)
    found += custom_calls.unapplied(request)
    if request.parallel_tool_calls is False and _offered(request):
        found.append("parallel_tool_calls")  # Claude may call several functions at once
    search = request.web_search_options
    if search is not None:  # what Claude Code's WebSearch cannot take
        unapplied = ("search_context_size", "user_location")
        found += [f"web_search_options.{name}" for name in unapplied if getattr(search, name) is not None]
    return ignored(request, UNAPPLIED, found)


def _offered(request: oa.ChatCompletionRequest) -> list[ToolSpec]:
    """What Claude is offered: the client's functions (tools, or the legacy functions) and custom
    tools (custom_calls.py), unless tool_choice hides them."""
    if request.tool_choice == "none" or request.function_call == "none":
        return []
    functions = [tool.function for tool in request.tools or [] if isinstance(tool, oa.FunctionTool)]
    specs = [tool_spec(f.name, f.description, f.parameters) for f in functions + list(request.functions or [])]
    return specs + custom_calls.specs(request)


def _forced_function(request: oa.ChatCompletionRequest) -> str | None:
    """tool_choice "required", a named tool or a named legacy function_call (request_rules.forced_tool)."""
    choice, legacy, named = request.tool_choice, request.function_call, None
    if isinstance(choice, (oa.NamedToolChoice, ct.NamedCustomChoice)):
        named = choice.function.name if isinstance(choice, oa.NamedToolChoice) else choice.custom.name
    elif isinstance(legacy, ct.NamedFunction):
        named = legacy.name
    return forced_tool(bool(_offered(request)), choice == "required", named)


MAX_CHOICES = 8  # each choice is a full Claude turn on its own process


# What OpenAI accepts but this gateway cannot serve well: a clear 400 beats a silent no.
def _check_supported(request: oa.ChatCompletionRequest) -> None:
    if (request.n or 1) > MAX_CHOICES:
        raise invalid_request(
            f"n is at most {MAX_CHOICES} here: each choice is a whole Claude Code turn of its own.",
            "n",
            "invalid_value",
        )
    if (request.n or 1) > 1 and request.session_id:
        raise invalid_request(
            "n > 1 cannot be used with session_id: a session continues one answer, not several.", "n", "invalid_value"
        )


def to_turn(request: oa.ChatCompletionRequest, model: str | None, tenant: str, request_id: str) -> Turn:
    _check_supported(request)
    custom_calls.custom_names(request)  # a 400 for a name two tools share
    system_parts: list[str] = []
    messages: list[Message] = []
    legacy_call = ""  # id given to the last legacy function_call, for the function message after it
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if isinstance(message, (oa.SystemMessage, oa.DeveloperMessage)):
            system_parts.append(_plain_text(message.content))
        elif isinstance(message, oa.UserMessage):
            append_message(messages, "user", require_content(_user_blocks(message.content, where), where))
        elif isinstance(message, oa.AssistantMessage):
            if message.function_call is not None:  # legacy: no id, so one is made up
                legacy_call = f"call_legacy_{i}"
                message = message.model_copy(
                    update={
                        "tool_calls": [oa.ToolCall(id=legacy_call, function=message.function_call)],
                        "function_call": None,
                    }
                )
            append_message(messages, "assistant", _assistant_blocks(message, where))
        elif isinstance(message, oa.FunctionMessage):
            append_message(messages, "user", [tool_result(legacy_call, message.content or "")])
        elif isinstance(message, oa.ToolMessage):
            content = message.content if isinstance(message.content, str) else _user_blocks(message.content, where)
            append_message(messages, "user", [tool_result(message.tool_call_id, content)])
    continue_after_assistant(messages, "messages")
    forced = _forced_function(request)
    return Turn(
        model=model,
        messages=messages,
        system=system_prompt(system_parts, forced),
        forced_tool=forced,
        max_output_tokens=output_limit(request.max_completion_tokens or request.max_tokens),
        tenant=tenant,
        request_id=request_id,
        effort=effort(request.reasoning_effort, "reasoning_effort"),
        stop=_stops(request.stop),
        output_schema=_output_schema(request.response_format),
        user=request.user,
        metadata=dict(request.metadata or {}),
        tools=tuple(_offered(request)),
        hosted=Hosted(web_search=WebRules()) if request.web_search_options is not None else Hosted(),
        # The legacy answer's call comes back (as the assistant message after these) under this id.
        legacy_call_id=f"call_legacy_{len(request.messages)}" if uses_legacy_functions(request) else None,
    )


def _stops(stop: str | list[str] | None) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > 4:
        raise invalid_request("stop takes at most 4 sequences.", "stop", "invalid_value")
    return [s for s in stops if s]


def _output_schema(response_format: oa.ResponseFormat | None) -> dict[str, Any] | None:
    schema = response_format.json_schema.schema_ if isinstance(response_format, oa.JSONSchemaFormat) else None
    kind = response_format.type if response_format else None
    return output_schema(kind, schema, "response_format.json_schema.schema")


def _plain_text(content: str | list[oa.TextPart]) -> str:
    return content if isinstance(content, str) else "\n".join(part.text for part in content)


def _user_blocks(content: str | list[oa.UserPart], where: str) -> list[Block]:
    if isinstance(content, str):
        return text_blocks(content)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if isinstance(part, oa.TextPart):
            blocks.extend(text_blocks(part.text))
        elif isinstance(part, oa.FilePart):
            blocks.append(file_block(part.file.file_data, part.file.filename, f"{where}.content[{j}].file"))
        else:
            blocks.append(image_from_url(part.image_url.url, f"{where}.content[{j}].image_url.url"))
    return blocks


def _assistant_blocks(message: oa.AssistantMessage, where: str) -> list[Block]:
    blocks: list[Block] = []
    if isinstance(message.content, str):
        blocks.extend(text_blocks(message.content))
    elif message.content:
        for part in message.content:
            blocks.extend(text_blocks(part.text if isinstance(part, oa.TextPart) else part.refusal))
    for j, call in enumerate(message.tool_calls or []):
        if isinstance(call, ct.CustomToolCall):
            blocks.append(custom_tools.call_block(call.id, call.custom.name, call.custom.input))
            continue
        param = f"{where}.tool_calls[{j}].function.arguments"
        blocks.append(tool_call(call.id, call.function.name, call.function.arguments, param))
    return blocks


def uses_legacy_functions(request: oa.ChatCompletionRequest) -> bool:
    return bool(request.functions) and not request.tools
