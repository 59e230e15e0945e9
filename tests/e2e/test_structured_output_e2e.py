"""Structured output where agent frameworks combine it with more, against the real CLI: the client's
functions over several steps before the JSON answer (the Agents SDK's output_type with tools,
pydantic-ai's NativeOutput, the AI SDK's `output`), and a conversation that ends with the
assistant's own message (LangGraph's structured response)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from app.dialects.request_rules import CONTINUE_PROMPT
from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply, tool_results
from tests.support import conversation, texts

pytestmark = pytest.mark.e2e

CITIES = ["Oslo", "Rome"]
WEATHER = {"Oslo": "cold, 3 C", "Rome": "sunny, 24 C"}
SCHEMA = {
    "type": "object",
    "properties": {"reports": {"type": "array", "items": {"type": "string"}}},
    "required": ["reports"],
    "additionalProperties": False,
}
CHAT_FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
RESPONSES_FORMAT = {"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}}
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": PARAMETERS}


def lookups_then_structured_output(body: dict[str, Any]) -> Reply:
    """Claude's side: one get_weather call a step (each after a word of its own), then the answer
    through Claude Code's structured-output tool, made of the results it received."""
    results = tool_results(body)
    if len(results) < len(CITIES):
        call = {"name": "mcp__client__get_weather", "input": {"city": CITIES[len(results)]}}
        return Reply(text="Let me check.", tool_uses=[call])
    return Reply(tool_uses=[{"name": "StructuredOutput", "input": {"reports": results}}])


def offered(body: dict[str, Any]) -> set[str]:
    return {tool["name"] for tool in body.get("tools", [])}


def chat_step(client: openai.OpenAI, messages: list[dict[str, Any]], stream: bool) -> tuple[dict[str, Any], str]:
    """One step with tools and a JSON schema format: the message as the client sends it back, and
    its finish reason."""
    extra: dict[str, Any] = {"tools": [CHAT_TOOL], "response_format": CHAT_FORMAT}
    if not stream:
        response = client.chat.completions.create(model="sonnet", messages=messages, **extra)
        return response.choices[0].message.model_dump(exclude_none=True), response.choices[0].finish_reason
    content, calls, finish = "", {}, ""
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, stream=True, **extra):
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for part in delta.tool_calls or []:
            blank = {"id": part.id, "type": "function", "function": {"name": "", "arguments": ""}}
            call = calls.setdefault(part.index, blank)
            call["function"]["name"] += part.function.name or ""
            call["function"]["arguments"] += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message, finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_chat_tools_over_two_steps_then_the_json_answer(client, fake, stream):
    fake.default = lookups_then_structured_output
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
    for city in CITIES:
        message, finish = chat_step(client, messages, stream)
        assert finish == "tool_calls" and message.get("content") is None  # the answer's text is the JSON only
        (call,) = message["tool_calls"]
        assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == ("get_weather", {"city": city})
        messages += [message, {"role": "tool", "tool_call_id": call["id"], "content": WEATHER[city]}]
    message, finish = chat_step(client, messages, stream)

    assert finish == "stop" and "tool_calls" not in message
    assert json.loads(message["content"]) == {"reports": ["cold, 3 C", "sunny, 24 C"]}
    # One model call a step: the held turn went on each time. Counted among the calls that offer
    # the client's function, leaving out a small call the CLI now and then makes of its own under
    # load (max_tokens 20, with or without the tools and with context_management: seen twice,
    # cause unknown; named in the issue 22/23 note as an upstream call no client asked for).
    steps = [b for b in fake.requests if "mcp__client__get_weather" in offered(b) and b.get("max_tokens") != 20]
    assert len(steps) == 3
    assert {"StructuredOutput", "mcp__client__get_weather"} <= offered(steps[-1])


def test_chat_tools_and_a_json_answer_on_the_rebuild_path(cold_gateway, fake):
    # No held turn to continue (a process per request): each step rebuilds the conversation.
    client = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    fake.default = lookups_then_structured_output
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
    for city in CITIES:
        message, finish = chat_step(client, messages, stream=False)
        (call,) = message["tool_calls"]
        messages += [message, {"role": "tool", "tool_call_id": call["id"], "content": WEATHER[city]}]
    message, finish = chat_step(client, messages, stream=False)
    assert finish == "stop" and json.loads(message["content"]) == {"reports": ["cold, 3 C", "sunny, 24 C"]}


def responses_step(client: openai.OpenAI, items: list[Any], stream: bool) -> Any:
    """One Responses step with tools and a JSON schema format: the response object."""
    extra: dict[str, Any] = {"tools": [RESPONSES_TOOL], "text": RESPONSES_FORMAT}
    if not stream:
        return client.responses.create(model="sonnet", input=items, **extra)
    (done,) = [
        event.response
        for event in client.responses.create(model="sonnet", input=items, stream=True, **extra)
        if event.type == "response.completed"
    ]
    return done


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_responses_tools_over_two_steps_then_the_json_answer(client, fake, stream):
    fake.default = lookups_then_structured_output
    items: list[Any] = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
    for city in CITIES:
        response = responses_step(client, items, stream)
        (call,) = response.output
        assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", {"city": city})
        items += [call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id}]
        items[-1]["output"] = WEATHER[city]
    response = responses_step(client, items, stream)

    assert response.status == "completed" and [item.type for item in response.output] == ["message"]
    assert json.loads(response.output_text) == {"reports": ["cold, 3 C", "sunny, 24 C"]}
    assert len(fake.requests) == 3
    assert {"StructuredOutput", "mcp__client__get_weather"} <= offered(fake.requests[-1])


# --- a conversation that ends with the assistant's message ------------------------------------------

HISTORY = [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": "It is cold, 3 C."},
]


def structured_answer(body: dict[str, Any]) -> Reply:
    """Claude's side: the JSON answer when a schema is asked for, else a sentence."""
    if "StructuredOutput" in offered(body):
        return Reply(tool_uses=[{"name": "StructuredOutput", "input": {"reports": ["cold, 3 C"]}}])
    return Reply(text="Anything else?")


def test_chat_answers_a_history_that_ends_with_the_assistants_message(client, fake):
    # What LangGraph's structured response sends: OpenAI answers with the next assistant message.
    fake.default = structured_answer
    response = client.chat.completions.create(model="sonnet", messages=HISTORY, response_format=CHAT_FORMAT)

    assert response.choices[0].finish_reason == "stop"
    assert json.loads(response.choices[0].message.content) == {"reports": ["cold, 3 C"]}
    # Claude gets the history as history, then the gateway's short prompt in the user's place.
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "Weather in Oslo?"),
        ("assistant", "It is cold, 3 C."),
        ("user", CONTINUE_PROMPT),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_responses_answers_input_that_ends_with_the_assistants_message(client, fake, stream):
    fake.default = structured_answer
    if stream:
        (response,) = [
            event.response
            for event in client.responses.create(model="sonnet", input=HISTORY, stream=True)
            if event.type == "response.completed"
        ]
    else:
        response = client.responses.create(model="sonnet", input=HISTORY)
    assert response.status == "completed" and response.output_text == "Anything else?"
    assert texts(conversation(fake.requests[-1]))[-2:] == [("assistant", "It is cold, 3 C."), ("user", CONTINUE_PROMPT)]


def test_a_named_session_records_the_prompt_that_stood_in_for_the_user(gateway, client, fake):
    # A session holds what Claude was given: the next turn goes on from there, and GET shows it.
    fake.default = structured_answer
    session = {"session_id": "continue-after-assistant"}
    client.chat.completions.create(model="sonnet", messages=HISTORY[:1], extra_body=session)
    client.chat.completions.create(model="sonnet", messages=[HISTORY[1]], extra_body=session)
    client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Thanks."}], extra_body=session
    )
    stored = httpx.get(
        f"{gateway.url}/v1/sessions/continue-after-assistant", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()
    roles_and_texts = [(m["role"], " ".join(b["text"] for b in m["content"])) for m in stored["messages"]]
    assert roles_and_texts == [
        ("user", "Weather in Oslo?"),
        ("assistant", "Anything else?"),
        ("assistant", "It is cold, 3 C."),
        ("user", CONTINUE_PROMPT),
        ("assistant", "Anything else?"),
        ("user", "Thanks."),
        ("assistant", "Anything else?"),
    ]
    assert texts(conversation(fake.requests[-1]))[-3:] == [
        ("user", CONTINUE_PROMPT),
        ("assistant", "Anything else?"),
        ("user", "Thanks."),
    ]


def test_a_prefill_on_the_messages_door_is_refused_in_anthropics_envelope(gateway, fake):
    # Anthropic continues a last assistant message (a prefill); Claude Code always answers a user
    # message and cannot send Claude one that ends with its own.
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "sonnet", "max_tokens": 50, "messages": HISTORY},
        headers={"x-api-key": API_KEY},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "cannot continue an assistant message" in response.json()["error"]["message"]
    assert fake.requests == []
