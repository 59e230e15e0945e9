"""Function calling end to end: the client's functions as Claude tools, round trips without restart."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.upstream import Reply

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def calls(*pairs):
    return Reply(tool_uses=[{"name": f"mcp__client__{name}", "input": args} for name, args in pairs])


def test_a_function_call_round_trip(client, gateway, fake):
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="It is sunny in Oslo."))
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    offered = [tool["name"] for tool in fake.requests[-1]["tools"]]
    assert "mcp__client__get_weather" in offered

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "It is sunny in Oslo."
    assert second.choices[0].finish_reason == "stop"
    # The waiting Claude turn received the result and went on: the API saw the tool result.
    last = fake.requests[-1]["messages"]
    results = [
        b
        for m in last
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert results and results[-1]["tool_use_id"] == call.id
    assert "sunny, 21 C" in json.dumps(results[-1]["content"])


def test_a_streamed_function_call_follows_openai(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Bergen"})), Reply(text="Rainy.", chunk_size=2))
    messages = [{"role": "user", "content": "Weather in Bergen?"}]
    chunks = list(client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], stream=True))
    fragments = [
        tc for c in chunks if c.choices and c.choices[0].delta.tool_calls for tc in c.choices[0].delta.tool_calls
    ]
    first, rest = fragments[0], fragments[1:]
    assert (first.index, first.type, first.function.name) == (0, "function", "get_weather") and first.id
    assert rest and all(f.index == 0 and f.id is None and f.function.name is None for f in rest)
    arguments = "".join(f.function.arguments or "" for f in fragments)
    assert json.loads(arguments) == {"city": "Bergen"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": first.id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": first.id, "content": "rain"},
    ]
    chunks = list(client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Rainy."


def test_two_parallel_calls_come_back_together(client, fake):
    fake.enqueue(
        calls(("get_weather", {"city": "Oslo"}), ("get_time", {"city": "Oslo"})), Reply(text="Sunny, and it is noon.")
    )
    messages = [{"role": "user", "content": "Weather and time in Oslo?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER, TIME])
    tool_calls = first.choices[0].message.tool_calls
    assert [c.function.name for c in tool_calls] == ["get_weather", "get_time"]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tool_calls[0].id, "content": "sunny"},
        {"role": "tool", "tool_call_id": tool_calls[1].id, "content": "12:00"},
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER, TIME])
    assert second.choices[0].message.content == "Sunny, and it is noon."
    sent = json.dumps(fake.requests[-1]["messages"])
    assert "sunny" in sent and "12:00" in sent


def test_without_the_held_turn_the_conversation_is_rebuilt(cold_gateway, fake):
    import openai

    from tests.e2e.conftest import API_KEY

    cold = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Rome"})), Reply(text="Hot in Rome."))
    messages = [{"role": "user", "content": "Weather in Rome?"}]
    first = cold.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "35 C"},
    ]
    second = cold.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Hot in Rome."
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] in ("user", "assistant")]
    assert [b["type"] for b in sent[1]["content"]] == ["tool_use"]  # rebuilt as real turns
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == call.id and not result.get("is_error")
    assert "35 C" in json.dumps(result["content"])


def test_tool_choice_none_hides_the_tools(client, fake):
    client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "hi"}], tools=[WEATHER], tool_choice="none"
    )
    assert "mcp__client__get_weather" not in [t["name"] for t in fake.requests[-1]["tools"]]


def test_langchain_bind_tools_with_a_tool_message(gateway, fake):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    from tests.e2e.conftest import API_KEY

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "windy"

    fake.enqueue(calls(("get_weather", {"city": "Paris"})), Reply(text="Windy in Paris."))
    llm = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, model="sonnet", max_retries=0).bind_tools(
        [get_weather]
    )
    history = [HumanMessage("Weather in Paris?")]
    ai = llm.invoke(history)
    assert ai.tool_calls[0]["name"] == "get_weather" and ai.tool_calls[0]["args"] == {"city": "Paris"}
    history += [ai, ToolMessage(get_weather.invoke(ai.tool_calls[0]["args"]), tool_call_id=ai.tool_calls[0]["id"])]
    assert llm.invoke(history).content == "Windy in Paris."


def test_a_function_call_round_trip_in_a_named_session(client, gateway, fake):
    fake.enqueue(calls(("get_weather", {"city": "Kyiv"})), Reply(text="Snowing in Kyiv."))
    session = {"extra_body": {"session_id": "tools-session"}}
    first = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Weather in Kyiv?"}], tools=[WEATHER], **session
    )
    call = first.choices[0].message.tool_calls[0]
    second = client.chat.completions.create(  # only the new message: the session holds the rest
        model="sonnet",
        messages=[{"role": "tool", "tool_call_id": call.id, "content": "snow"}],
        tools=[WEATHER],
        **session,
    )
    assert second.choices[0].message.content == "Snowing in Kyiv."
    assert '"snow"' in json.dumps(fake.requests[-1]["messages"])


# --- found in review ---------------------------------------------------------------------------
def test_float_arguments_do_not_hang_the_turn(client, fake):
    # Claude's 1.0 reaches the MCP handler as 1: results are matched by function name, in order.
    fake.enqueue(calls(("scale", {"factor": 1.0})), Reply(text="Scaled."))
    scale = {
        "type": "function",
        "function": {"name": "scale", "parameters": {"type": "object", "properties": {"factor": {"type": "number"}}}},
    }
    messages = [{"role": "user", "content": "scale it"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[scale])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "done"},
    ]
    assert (
        client.chat.completions.create(model="sonnet", messages=messages, tools=[scale], timeout=20)
        .choices[0]
        .message.content
        == "Scaled."
    )


def test_a_schema_without_properties_reaches_claude_intact(client, fake):
    bare = {"type": "function", "function": {"name": "ping", "description": "Ping", "parameters": {"type": "object"}}}
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}], tools=[bare])
    (offered,) = [t for t in fake.requests[-1]["tools"] if t["name"] == "mcp__client__ping"]
    assert offered["input_schema"].get("properties") == {}  # not a made-up "type" parameter


def test_a_json_schema_response_format_without_a_schema_is_a_clear_400(client, fake):
    # (tools with a JSON response format are served: test_structured_output_e2e.py)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": None},
        )


def test_tool_results_with_user_text_survive_a_rebuild(cold_gateway, fake):
    from tests.e2e.conftest import API_KEY

    cold = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Brief: sunny."))
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = cold.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "RESULT-4"},
        {"role": "user", "content": "and be brief"},
    ]
    cold.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    sent = json.dumps(fake.requests[-1]["messages"])
    assert "RESULT-4" in sent and "and be brief" in sent and "interrupted" not in sent


def test_legacy_functions_and_function_call(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Lima"})), Reply(text="Mild in Lima."))
    functions = [WEATHER["function"]]
    messages = [{"role": "user", "content": "Weather in Lima?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, functions=functions)
    choice = first.choices[0]
    assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
    assert choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "Lima"}
    messages += [
        {"role": "assistant", "content": None, "function_call": choice.message.function_call.model_dump()},
        {"role": "function", "name": "get_weather", "content": "18 C"},
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, functions=functions)
    assert second.choices[0].message.content == "Mild in Lima."
    assert "18 C" in json.dumps(fake.requests[-1]["messages"])


def test_a_large_tool_result_reaches_claude_whole(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Read it all."))
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    big = "weather report line\n" * 4000  # 80 KB
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": big},
    ]
    client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    sent = json.dumps(fake.requests[-1]["messages"])
    assert sent.count("weather report line") == 4000 and "persisted-output" not in sent


def test_max_tokens_inside_a_function_call_is_length_with_the_arguments_so_far(client, fake):
    cut = {"name": "mcp__client__get_weather", "partial_json": '{"city": "Oslo", "unit": "cel'}
    fake.enqueue(Reply(tool_uses=[cut], stop_reason="max_tokens"))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], max_tokens=20
    )
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.tool_calls[0].function.arguments == '{"city": "Oslo", "unit": "cel'
