"""Function calling as agent frameworks use it, against the real CLI: every call of Claude's reaches
the client and every result of the client's reaches Claude, whatever the arguments look like, however
Claude Code got the answer, and however long the client takes."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply, agent
from tests.support import GatewayServer, streamed_step

pytestmark = pytest.mark.e2e

STRICT_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def calls(*pairs):
    return Reply(tool_uses=[{"name": f"mcp__client__{name}", "input": args} for name, args in pairs])


def results_sent(fake) -> list[dict]:
    """The tool_result blocks of the last request Claude Code sent upstream."""
    return [
        block
        for message in fake.requests[-1]["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def answer_with_results(client, messages, first, results: dict[str, str], **extra):
    messages = [*messages, first.choices[0].message.model_dump(exclude_none=True)]
    messages += [{"role": "tool", "tool_call_id": call_id, "content": text} for call_id, text in results.items()]
    return client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER], **extra)


def test_arguments_that_fail_the_clients_schema_still_wait_for_the_clients_result(client, fake):
    fake.enqueue(calls(("get_weather", {"city": 5, "unit": "C"})), Reply(text="Done."))
    messages = [{"role": "user", "content": "Weather?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    (call,) = first.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {"city": 5, "unit": "C"}  # passed on as Claude wrote them
    second = answer_with_results(client, messages, first, {call.id: "error: city must be a string"})
    assert second.choices[0].message.content == "Done."
    (result,) = results_sent(fake)
    assert result["tool_use_id"] == call.id and "city must be a string" in json.dumps(result["content"])
    assert "validation" not in json.dumps(result).lower()


def test_a_call_in_an_unstreamed_answer_ends_the_answer(client, fake):
    # The stream breaks off before any text; Claude Code asks again without streaming, and that
    # whole answer calls a function: no stop reason streams, yet the client must get the call now.
    fake.enqueue(
        Reply(text="never shown", chunk_size=2, fail_after=0, error_type="overloaded_error"),
        calls(("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome"})),
        Reply(text="Both fine."),
    )
    messages = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
    started = time.monotonic()
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER], timeout=30)
    assert first.choices[0].finish_reason == "tool_calls"
    assert time.monotonic() - started < 20  # not the request timeout
    oslo, rome = first.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["city"] for c in (oslo, rome)] == ["Oslo", "Rome"]
    second = answer_with_results(client, messages, first, {rome.id: "hot", oslo.id: "cold"})  # any order
    assert second.choices[0].message.content == "Both fine."
    assert {r["tool_use_id"]: json.dumps(r["content"]) for r in results_sent(fake)}.keys() == {oslo.id, rome.id}


def test_usage_of_a_continued_turn_counts_only_what_came_after_the_results(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Sunny.", input_tokens=100, output_tokens=9))
    messages = [{"role": "user", "content": "Weather?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    call = first.choices[0].message.tool_calls[0]
    second = answer_with_results(client, messages, first, {call.id: "sunny"})
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (11, 7)  # the first model call's
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (100, 9)  # the second's alone


def test_a_break_off_after_the_results_does_not_void_the_continued_answer(client, fake):
    fake.enqueue(
        calls(("get_weather", {"city": "Oslo"})),
        Reply(text="lost", chunk_size=2, fail_after=0, error_type="overloaded_error"),
        Reply(text="It is sunny."),
    )
    messages = [{"role": "user", "content": "Weather?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    call = first.choices[0].message.tool_calls[0]
    chunks = list(answer_with_results(client, messages, first, {call.id: "sunny"}, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "It is sunny."


@pytest.fixture(scope="module")
def impatient_environment(upstream, cli_config_dir, tmp_path_factory):
    """A gateway whose environment tells MCP clients to give up on a tool call after 2 s."""
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_API_KEYS": API_KEY, "MCP_TOOL_TIMEOUT": "2000"}
    server = GatewayServer(env, tmp_path_factory.mktemp("impatient")).start()
    yield server
    server.stop()


def test_a_client_may_take_longer_than_mcps_own_timeout(impatient_environment, fake):
    client = openai.OpenAI(base_url=f"{impatient_environment.url}/v1", api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Sunny."))
    messages = [{"role": "user", "content": "Weather?"}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    call = first.choices[0].message.tool_calls[0]
    time.sleep(3)  # a slow tool on the client's side
    second = answer_with_results(client, messages, first, {call.id: "sunny at last"})
    assert second.choices[0].message.content == "Sunny."
    (result,) = results_sent(fake)
    assert "sunny at last" in json.dumps(result["content"]) and "timed out" not in json.dumps(result)


def test_tool_choice_none_after_earlier_calls_sends_a_request_anthropic_accepts(client, fake):
    # Anthropic refuses tool_use/tool_result blocks in a request that defines no tools (the fake
    # upstream answers 400 as it does); Claude Code cannot send tool_choice "none" itself.
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
        {"role": "assistant", "content": "It is sunny in Oslo."},
        {"role": "user", "content": "Summarise without calling anything."},
    ]
    fake.enqueue(Reply(text="Sunny."))
    response = client.chat.completions.create(
        model="sonnet", messages=history, tools=[STRICT_WEATHER], tool_choice="none"
    )
    assert response.choices[0].message.content == "Sunny."
    sent = json.dumps(fake.requests[-1]["messages"])
    assert '"tool_use"' not in sent and '"tool_result"' not in sent
    assert "sunny, 21 C" in sent and "get_weather" in sent  # the earlier call and result, as text


def tool(name: str, description: str = "", **properties: dict) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


@pytest.mark.parametrize("stream", [False, True])
def test_a_ten_step_loop_continues_one_held_turn_without_spawning(keyless_stats_gateway, fake, stream):
    gateway = keyless_stats_gateway
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="none", max_retries=0, timeout=60)
    fake.default = agent(*[[("lookup", {"step": i})] for i in range(10)])
    tools = [tool("lookup", "Look something up", step={"type": "integer"})]
    messages = [{"role": "user", "content": "Do ten lookups."}]
    spawned = None
    for step in range(11):
        message, finish = complete(client, messages, tools, stream)
        if step == 0:
            spawned = spawned_for_turns(gateway)
        if step < 10:
            assert finish == "tool_calls", (step, message)
            (call,) = message["tool_calls"]
            assert json.loads(call["function"]["arguments"]) == {"step": step}
            messages += [message, {"role": "tool", "tool_call_id": call["id"], "content": f"r{step}"}]
        else:
            assert finish == "stop"
            assert message["content"] == "results: " + " | ".join(f"r{i}" for i in range(10))
    assert spawned_for_turns(gateway) == spawned  # every step on one process
    assert len(fake.requests) >= 11 and all(
        r["messages"][0]["content"][0]["text"] == "Do ten lookups." for r in fake.requests[-11:]
    )


def test_three_parallel_calls_take_their_results_in_any_order(client, fake):
    fake.default = agent(
        [("get-weather", {"city": "Oslo"}), ("get_time", {"city": "Oslo"}), ("get-weather", {"city": "Rome"})]
    )
    tools = [tool("get-weather", city={"type": "string"}), tool("get_time", city={"type": "string"})]
    messages = [{"role": "user", "content": "Weather and time."}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
    calls_ = first.choices[0].message.tool_calls
    assert [c.function.name for c in calls_] == ["get-weather", "get_time", "get-weather"]
    assert len({c.id for c in calls_}) == 3
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    for index in (2, 0, 1):  # not in the calls' order
        messages.append({"role": "tool", "tool_call_id": calls_[index].id, "content": f"result {index}"})
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
    # Each result reached the call it answers: Claude Code puts them in its calls' order.
    assert second.choices[0].message.content == "results: result 0 | result 1 | result 2"


def test_forty_tools_with_long_descriptions_and_a_20_kb_system_prompt(client, fake):
    tools = [tool(f"tool_{i:02d}-x", "Does a thing. " * 40, arg={"type": "string"}) for i in range(40)]
    system = "You are an agent. " * 1200  # about 20 KB
    fake.default = agent([("tool_39-x", {"arg": "last"})])
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Use the last tool."}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "tool_39-x"
    offered = {t["name"] for t in fake.requests[-1]["tools"]}
    assert {f"mcp__client__tool_{i:02d}-x" for i in range(40)} <= offered
    assert system.strip() in " ".join(b["text"] for b in fake.requests[-1]["system"])
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "done"},
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
    assert second.choices[0].message.content == "results: done"


def complete(client, messages, tools, stream: bool) -> tuple[dict, str]:
    """One step as a dict message (as the client will send it back) and its finish reason."""
    if not stream:
        response = client.chat.completions.create(model="sonnet", messages=messages, tools=tools)
        return response.choices[0].message.model_dump(exclude_none=True), response.choices[0].finish_reason
    return streamed_step(client, messages, tools)


def spawned_for_turns(gateway) -> int:
    """Processes started for turns, not as spares (one reading: a spare may start in between)."""
    figures = pool(gateway)
    return figures["spawned_total"] - figures["spares_started"]


def pool(gateway) -> dict:
    return httpx.get(f"{gateway.url}/v1/sessions/stats").json()["gateway"]["processes"]


@pytest.fixture(scope="module")
def keyless_stats_gateway(upstream, cli_config_dir, tmp_path_factory):
    """Keyless (its stats show the whole pool), for counting the processes a loop spawns."""
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "loops", api_keys="")


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def images_in_results(fake) -> list[dict]:
    return [
        part
        for result in results_sent(fake)
        if isinstance(result.get("content"), list)
        for part in result["content"]
        if part.get("type") == "image"
    ]


def test_an_image_in_a_chat_tool_result_reaches_claude_as_an_image(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="I see the chart."))
    messages = [{"role": "user", "content": "Show me the weather chart."}]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": [
                {"type": "text", "text": "the chart:"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    assert second.choices[0].message.content == "I see the chart."
    (image,) = images_in_results(fake)
    assert image["source"]["data"] == PNG and image["source"]["media_type"] == "image/png"


def test_an_image_in_an_anthropic_tool_result_reaches_claude_as_an_image(gateway, fake):
    import anthropic

    claude = anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="I see it."))
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    messages = [{"role": "user", "content": "Chart?"}]
    first = claude.messages.create(model="sonnet", max_tokens=100, messages=messages, tools=tools)
    use = next(block for block in first.content if block.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
                    ],
                }
            ],
        },
    ]
    second = claude.messages.create(model="sonnet", max_tokens=100, messages=messages, tools=tools)
    assert second.content[0].text == "I see it."
    assert [image["source"]["data"] for image in images_in_results(fake)] == [PNG]


def test_an_image_in_a_function_call_output_reaches_claude_as_an_image(client, fake):
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Seen."))
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    first = client.responses.create(model="sonnet", input="Chart?", tools=tools)
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model="sonnet",
        previous_response_id=first.id,
        tools=tools,
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": [{"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}],
            }
        ],
    )
    assert second.output_text == "Seen."
    assert [image["source"]["data"] for image in images_in_results(fake)] == [PNG]


def test_an_image_in_a_tool_result_survives_the_rebuild_path(cold_gateway, fake):
    cold = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})), Reply(text="Rebuilt and seen."))
    messages = [{"role": "user", "content": "Chart?"}]
    first = cold.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}],
        },
    ]
    second = cold.chat.completions.create(model="sonnet", messages=messages, tools=[STRICT_WEATHER])
    assert second.choices[0].message.content == "Rebuilt and seen."
    assert [image["source"]["data"] for image in images_in_results(fake)] == [PNG]


LEGACY_WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def test_legacy_function_call_follow_ups_continue_the_held_turn(keyless_stats_gateway, fake):
    client = openai.OpenAI(base_url=f"{keyless_stats_gateway.url}/v1", api_key="none", max_retries=0)
    fake.default = agent([("get_weather", {"city": "Lima"})], [("get_weather", {"city": "Quito"})])
    messages = [{"role": "user", "content": "Weather in Lima, then Quito?"}]
    before = pool(keyless_stats_gateway)
    for city, result in (("Lima", "18 C"), ("Quito", "12 C")):
        response = client.chat.completions.create(model="sonnet", messages=messages, functions=[LEGACY_WEATHER])
        call = response.choices[0].message.function_call
        assert response.choices[0].finish_reason == "function_call" and json.loads(call.arguments) == {"city": city}
        messages += [
            {"role": "assistant", "content": None, "function_call": call.model_dump()},
            {"role": "function", "name": "get_weather", "content": result},
        ]
    final = client.chat.completions.create(model="sonnet", messages=messages, functions=[LEGACY_WEATHER])
    assert final.choices[0].message.content == "results: 18 C | 12 C"
    after = pool(keyless_stats_gateway)
    # one process for the whole loop: each follow-up continued the held turn, none was rebuilt
    assert after["spawned_total"] - after["spares_started"] - (before["spawned_total"] - before["spares_started"]) == 1
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] in ("user", "assistant")]
    assert "continue" not in json.dumps(sent) and "No response requested" not in json.dumps(sent)


def test_legacy_function_results_in_a_named_session(client, fake):
    fake.default = agent([("get_weather", {"city": "Lima"})])
    first = client.chat.completions.create(
        model="sonnet",
        functions=[LEGACY_WEATHER],
        extra_body={"session_id": "legacy-1"},
        messages=[{"role": "user", "content": "Weather in Lima?"}],
    )
    assert first.choices[0].message.function_call.name == "get_weather"
    second = client.chat.completions.create(
        model="sonnet",
        functions=[LEGACY_WEATHER],
        extra_body={"session_id": "legacy-1"},
        messages=[{"role": "function", "name": "get_weather", "content": "18 C"}],
    )
    assert second.choices[0].message.content == "results: 18 C"


def last_user_text(body) -> str:
    message = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = message["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_choice_required_is_enforced_by_asking_again(gateway, fake, stream):
    fake.enqueue(Reply(text="I would rather chat."), calls(("get_weather", {"city": "Oslo"})))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={
            "model": "sonnet",
            "messages": [{"role": "user", "content": "Oslo?"}],
            "stream": stream,
            "tools": [STRICT_WEATHER],
            "tool_choice": "required",
        },
        timeout=60,
    ) as response:
        body = "".join(response.iter_text())
        assert "x-gateway-ignored-params" not in response.headers
    assert "rather chat" not in body  # the answer that the correction replaced never went out
    assert '"get_weather"' in body and "tool_calls" in body
    assert last_user_text(fake.requests[-1]) == "You must call one of the functions now."


def test_when_even_the_correction_fails_the_first_answer_stands_and_is_reported(client, fake):
    fake.enqueue(
        Reply(text="No tools today.", input_tokens=10, output_tokens=3),
        Reply(text="Still no.", input_tokens=20, output_tokens=4),
    )
    raw = client.chat.completions.with_raw_response.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Oslo?"}],
        tools=[STRICT_WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert raw.headers["x-gateway-ignored-params"] == "tool_choice"
    response = raw.parse()
    assert response.choices[0].message.content == "No tools today."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (30, 7)  # both model calls
    assert last_user_text(fake.requests[-1]) == "You must call the function `get_weather` now."


def test_forced_tool_use_on_the_messages_door(gateway, fake):
    import anthropic

    claude = anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)
    fake.enqueue(Reply(text="Hmm."), calls(("get_weather", {"city": "Oslo"})))
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    message = claude.messages.create(
        model="sonnet",
        max_tokens=100,
        tools=tools,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Oslo?"}],
    )
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["tool_use"]


def test_forced_function_on_the_responses_door(client, fake):
    fake.enqueue(Reply(text="Hmm."), calls(("get_weather", {"city": "Oslo"})))
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    response = client.responses.create(
        model="sonnet", input="Oslo?", tools=tools, tool_choice={"type": "function", "name": "get_weather"}
    )
    assert [item.type for item in response.output] == ["function_call"]


def test_a_held_turn_given_up_on_asks_claude_nothing_more(brief_gateway, fake):
    # The results never come: once the hold ends (GATEWAY_PROCESS_IDLE_TIMEOUT, 2 s here), the
    # process is interrupted and closed, and Claude is not asked again with a failed call.
    client = openai.OpenAI(base_url=f"{brief_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    fake.enqueue(calls(("get_weather", {"city": "Oslo"})))
    first = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Oslo?"}], tools=[STRICT_WEATHER]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    calls_so_far = len(fake.requests)
    time.sleep(6)  # the sweep ends the hold
    assert len(fake.requests) == calls_so_far
