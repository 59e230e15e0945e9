"""Agent frameworks, as their users run them, against the gateway on the real CLI: the OpenAI Agents
SDK (both of its OpenAI models), LangGraph's ReAct agent, pydantic-ai, Vercel's AI SDK and a plain
`openai` loop each run a multi-step tool loop. The fake upstream plays Claude (`agent()`: step i
calls the functions of steps[i]; the answer then names the results it received, in order), so each
test shows which calls reached the framework's tools, which results reached Claude and in which
order, and what the framework returned."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply, agent, tool_results
from tests.support import npm_project, streamed_step, wait_until

pytestmark = pytest.mark.e2e

WEATHER = {"Oslo": "cold, 3 C", "Rome": "sunny, 24 C"}
TIME = {"Oslo": "09:15"}
QUESTION = "Weather in Oslo and Rome, and the time in Oslo?"
# Claude's side of every framework loop: two parallel calls, then one more, then the answer.
TRAVEL = (
    [("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome"})],
    [("get_time", {"city": "Oslo"})],
)
TRAVEL_CALLS = [("get_weather", "Oslo"), ("get_weather", "Rome"), ("get_time", "Oslo")]
TRAVEL_RESULTS = ["cold, 3 C", "sunny, 24 C", "09:15"]
TRAVEL_ANSWER = "results: cold, 3 C | sunny, 24 C | 09:15"
PATHS = {"chat_completions": "/v1/chat/completions", "responses": "/v1/responses"}


class Wire:
    """What a framework sent the gateway, seen from the HTTP client it was given: each request's
    path and JSON body, the status, and the parameters named in X-Gateway-Ignored-Params."""

    def __init__(self) -> None:
        self.exchanges: list[dict[str, Any]] = []

    def _record(self, response: httpx.Response) -> None:
        self.exchanges.append(
            {
                "path": response.request.url.path,
                "body": json.loads(response.request.content or b"null"),
                "status": response.status_code,
                "ignored": response.headers.get("x-gateway-ignored-params"),
            }
        )

    def client(self) -> httpx.Client:
        return httpx.Client(event_hooks={"response": [self._record]}, timeout=60)

    def async_client(self) -> httpx.AsyncClient:
        async def record(response: httpx.Response) -> None:
            self._record(response)

        return httpx.AsyncClient(event_hooks={"response": [record]}, timeout=60)

    def bodies(self) -> list[dict[str, Any]]:
        return [exchange["body"] for exchange in self.exchanges]

    def ignored(self) -> list[str]:
        return [exchange["ignored"] for exchange in self.exchanges if exchange["ignored"]]


def claude_received(fake) -> list[str]:
    """The tool results Claude received in the last model call, in order."""
    return tool_results(fake.requests[-1])


def offered(fake) -> set[str]:
    return {tool["name"] for tool in fake.requests[-1].get("tools", [])}


# --- OpenAI Agents SDK ----------------------------------------------------------------------------


@pytest.fixture
def agents_sdk():
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # tracing would post every run to OpenAI's servers
    return agents


def travel_agent(agents_sdk, api: str, client: AsyncOpenAI, asked: list[tuple[str, str]]):
    @agents_sdk.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(("get_weather", city))
        return WEATHER[city]

    @agents_sdk.function_tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        asked.append(("get_time", city))
        return TIME[city]

    model = {"chat_completions": agents_sdk.OpenAIChatCompletionsModel, "responses": agents_sdk.OpenAIResponsesModel}
    return agents_sdk.Agent(
        name="travel",
        instructions="Answer with the tools.",
        tools=[get_weather, get_time],
        model=model[api](model="sonnet", openai_client=client),
    )


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_openai_agents_sdk_runs_a_tool_loop(agents_sdk, gateway, fake, api, stream):
    fake.default = agent(*TRAVEL)
    wire, asked = Wire(), []
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, http_client=wire.async_client())
    assistant = travel_agent(agents_sdk, api, client, asked)
    if stream:
        result = agents_sdk.Runner.run_streamed(assistant, QUESTION)
        async for _ in result.stream_events():
            pass
    else:
        result = await agents_sdk.Runner.run(assistant, QUESTION)

    assert asked == TRAVEL_CALLS  # Claude's calls reached the SDK's tools, arguments and all
    assert claude_received(fake) == TRAVEL_RESULTS  # and their results reached Claude, in order
    assert result.final_output == TRAVEL_ANSWER
    assert {"mcp__client__get_weather", "mcp__client__get_time"} <= offered(fake)
    assert "Answer with the tools." in json.dumps(fake.requests[-1]["system"])
    assert [exchange["path"] for exchange in wire.exchanges] == [PATHS[api]] * 3
    assert all(body.get("stream", False) is stream for body in wire.bodies())


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_openai_agents_sdk_hands_off_to_an_agent_with_other_instructions_and_tools(
    agents_sdk, gateway, fake, api
):
    # A handoff is a call of the first agent's; the second agent goes on with the same history
    # under its own instructions and tools, which Claude must then be given instead.
    fake.default = agent([("transfer_to_weather", {})], [("get_weather", {"city": "Oslo"})])
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    model = {"chat_completions": agents_sdk.OpenAIChatCompletionsModel, "responses": agents_sdk.OpenAIResponsesModel}

    @agents_sdk.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER[city]

    weather = agents_sdk.Agent(
        name="weather",
        instructions="You know the weather.",
        tools=[get_weather],
        model=model[api](model="sonnet", openai_client=client),
    )
    triage = agents_sdk.Agent(
        name="triage",
        instructions="Hand weather questions off.",
        handoffs=[weather],
        model=model[api](model="sonnet", openai_client=client),
    )
    result = await agents_sdk.Runner.run(triage, "Weather in Oslo?")

    assert result.last_agent.name == "weather"
    handoff_output, weather_output = claude_received(fake)
    assert weather_output == "cold, 3 C" and "weather" in handoff_output
    assert result.final_output == f"results: {handoff_output} | cold, 3 C"
    system = json.dumps(fake.requests[-1]["system"])
    assert "You know the weather." in system and "Hand weather questions off." not in system
    assert "mcp__client__get_weather" in offered(fake) and "mcp__client__transfer_to_weather" not in offered(fake)


class Forecast(BaseModel):
    city: str
    weather: str


def weather_then_structured_output(body: dict[str, Any]) -> Reply:
    """Claude's side of a structured answer after a function call: call get_weather, then give
    the answer through Claude Code's own structured-output tool."""
    results = tool_results(body)
    if not results:
        return Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Oslo"}}])
    return Reply(tool_uses=[{"name": "StructuredOutput", "input": {"city": "Oslo", "weather": results[-1]}}])


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_openai_agents_sdk_output_type_with_tools(agents_sdk, gateway, fake, api):
    fake.default = weather_then_structured_output
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    model = {"chat_completions": agents_sdk.OpenAIChatCompletionsModel, "responses": agents_sdk.OpenAIResponsesModel}

    @agents_sdk.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER[city]

    forecaster = agents_sdk.Agent(
        name="forecaster",
        tools=[get_weather],
        output_type=Forecast,
        model=model[api](model="sonnet", openai_client=client),
    )
    result = await agents_sdk.Runner.run(forecaster, "Weather in Oslo?")

    assert result.final_output == Forecast(city="Oslo", weather="cold, 3 C")
    assert claude_received(fake) == ["cold, 3 C"]


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_openai_agents_sdk_requests_pass_strict_mode(agents_sdk, gateway, fake, api):
    # Strict mode refuses what the gateway would ignore: a framework's own defaults must not count.
    fake.default = agent(*TRAVEL)
    client = AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, default_headers={"X-Gateway-Strict": "true"}
    )
    result = await agents_sdk.Runner.run(travel_agent(agents_sdk, api, client, []), QUESTION)
    assert result.final_output == TRAVEL_ANSWER


@pytest.mark.parametrize(
    ("path", "default"),
    [
        # the Agents SDK's Responses model sends this on every request
        pytest.param("/v1/responses", {"include": []}, id="include=[]"),
        pytest.param("/v1/responses", {"truncation": "disabled"}, id="truncation=disabled"),  # OpenAI's default
        pytest.param("/v1/chat/completions", {"store": False}, id="store=false"),  # nothing is stored anyway
        pytest.param("/v1/chat/completions", {"logprobs": False}, id="logprobs=false"),
        pytest.param("/v1/chat/completions", {"logit_bias": {}}, id="logit_bias={}"),
    ],
)
def test_a_parameter_at_its_no_op_default_is_not_reported_as_ignored(gateway, fake, path, default):
    body = {"model": "sonnet", **default}
    body |= {"input": "Hi"} if path == "/v1/responses" else {"messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Gateway-Strict": "true"}
    response = httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    assert "x-gateway-ignored-params" not in response.headers


# --- LangGraph ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")  # LangGraph 1.x still ships it
@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "streaming"])
def test_langgraph_react_agent_runs_two_tools_over_two_steps(gateway, fake, streaming):
    prebuilt = pytest.importorskip("langgraph.prebuilt")
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    asked = []

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(("get_weather", city))
        return WEATHER[city]

    @tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        asked.append(("get_time", city))
        return TIME[city]

    fake.default = agent(*TRAVEL)
    wire = Wire()
    llm = ChatOpenAI(
        model="sonnet",
        base_url=f"{gateway.url}/v1",
        api_key=API_KEY,
        max_retries=0,
        streaming=streaming,
        http_client=wire.client(),
    )
    graph = prebuilt.create_react_agent(llm, [get_weather, get_time], prompt="Answer with the tools.")
    state = graph.invoke({"messages": [("user", QUESTION)]})

    assert sorted(asked) == sorted(TRAVEL_CALLS)  # LangGraph runs a step's calls concurrently
    assert claude_received(fake) == TRAVEL_RESULTS
    final = state["messages"][-1]
    assert final.type == "ai" and final.content == TRAVEL_ANSWER and not final.tool_calls
    kinds = [message.type for message in state["messages"]]
    assert kinds == ["human", "ai", "tool", "tool", "ai", "tool", "ai"]
    assert len(wire.exchanges) == 3 and all(body.get("stream", False) is streaming for body in wire.bodies())
    assert wire.ignored() == []


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
def test_langgraph_react_agent_with_a_structured_response(gateway, fake):
    prebuilt = pytest.importorskip("langgraph.prebuilt")
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER[city]

    def claude(body: dict[str, Any]) -> Reply:
        if any(offered_tool["name"] == "StructuredOutput" for offered_tool in body.get("tools", [])):
            return Reply(tool_uses=[{"name": "StructuredOutput", "input": {"city": "Oslo", "weather": "cold, 3 C"}}])
        return agent([("get_weather", {"city": "Oslo"})])(body)

    fake.default = claude
    llm = ChatOpenAI(model="sonnet", base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    graph = prebuilt.create_react_agent(llm, [get_weather], response_format=Forecast)
    state = graph.invoke({"messages": [("user", "Weather in Oslo?")]})

    assert state["messages"][-1].content == "results: cold, 3 C"
    assert state["structured_response"] == Forecast(city="Oslo", weather="cold, 3 C")


# --- pydantic-ai ----------------------------------------------------------------------------------


def pydantic_ai_model(api: str, client: AsyncOpenAI):
    pytest.importorskip("pydantic_ai")  # needs Python >= 3.11
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = {"chat_completions": OpenAIChatModel, "responses": OpenAIResponsesModel}[api]
    return model("sonnet", provider=OpenAIProvider(openai_client=client))


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_stream_events"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_pydantic_ai_agent_runs_a_tool_loop(gateway, fake, api, stream):
    fake.default = agent(*TRAVEL)
    wire, asked = Wire(), []
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, http_client=wire.async_client())
    from pydantic_ai import Agent

    travel = Agent(pydantic_ai_model(api, client), instructions="Answer with the tools.")

    @travel.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(("get_weather", city))
        return WEATHER[city]

    @travel.tool_plain
    def get_time(city: str) -> str:
        """The local time in a city."""
        asked.append(("get_time", city))
        return TIME[city]

    if stream:
        async with travel.run_stream_events(QUESTION) as events:
            result = [event async for event in events][-1].result
    else:
        result = await travel.run(QUESTION)

    assert sorted(asked) == sorted(TRAVEL_CALLS)  # a step's calls run concurrently (sync tools in threads)
    assert claude_received(fake) == TRAVEL_RESULTS
    assert result.output == TRAVEL_ANSWER
    assert [exchange["path"] for exchange in wire.exchanges] == [PATHS[api]] * 3
    assert all(body.get("stream", False) is stream for body in wire.bodies())
    assert wire.ignored() == []


class CityFacts(BaseModel):
    city: str
    population: int
    weather: str


def facts_then_final_result(body: dict[str, Any]) -> Reply:
    """Claude's side of a structured-output run: look the population up, then answer by calling
    pydantic-ai's `final_result` tool with what the results said."""
    results = tool_results(body)
    if not results:
        return Reply(
            tool_uses=[
                {"name": "mcp__client__get_population", "input": {"city": "Oslo"}},
                {"name": "mcp__client__get_weather", "input": {"city": "Oslo"}},
            ]
        )
    population, weather = results
    facts = {"city": "Oslo", "population": int(population), "weather": weather}
    return Reply(tool_uses=[{"name": "mcp__client__final_result", "input": facts}])


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_pydantic_ai_structured_output_ends_on_its_final_result_call(gateway, fake, api):
    fake.default = facts_then_final_result
    wire = Wire()
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, http_client=wire.async_client())
    from pydantic_ai import Agent

    facts = Agent(pydantic_ai_model(api, client), output_type=CityFacts)

    @facts.tool_plain
    def get_population(city: str) -> str:
        """The population of a city."""
        return "717710"

    @facts.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER[city]

    result = await facts.run("Facts about Oslo?")

    assert result.output == CityFacts(city="Oslo", population=717710, weather="cold, 3 C")
    assert claude_received(fake) == ["717710", "cold, 3 C"]
    assert "mcp__client__final_result" in offered(fake)
    # pydantic-ai asks for a call (its output is a tool), gets one at once, and ends there: it
    # never sends final_result's own result back.
    first, second = wire.bodies()
    assert first["tool_choice"] == second["tool_choice"] == "required"
    assert wire.ignored() == []
    corrections = [text for body in fake.requests for text in _user_texts(body) if "You must call" in text]
    assert corrections == []  # Claude called a function each time: the gateway never had to insist


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_pydantic_ai_native_output_with_tools(gateway, fake, api):
    # NativeOutput asks for the JSON through the response format, with the tools on offer: Claude
    # calls get_weather, then answers through Claude Code's structured-output tool.
    fake.default = weather_then_structured_output
    wire = Wire()
    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, http_client=wire.async_client())
    from pydantic_ai import Agent, NativeOutput

    forecaster = Agent(pydantic_ai_model(api, client), output_type=NativeOutput(Forecast))

    @forecaster.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER[city]

    result = await forecaster.run("Weather in Oslo?")

    assert result.output == Forecast(city="Oslo", weather="cold, 3 C")
    assert claude_received(fake) == ["cold, 3 C"]
    assert [exchange["status"] for exchange in wire.exchanges] == [200, 200]
    assert wire.ignored() == []


def _user_texts(body: dict[str, Any]) -> list[str]:
    return [
        block.get("text", "")
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
    ]


# --- Vercel AI SDK (Node) -------------------------------------------------------------------------

AI_SDK_PROJECT = Path(__file__).parent / "node_ai_sdk"


@pytest.fixture(scope="module")
def ai_sdk() -> str:
    """Node, with the AI SDK project installed from its lock (`npm ci`) when it is not yet."""
    return npm_project(AI_SDK_PROJECT, "Vercel's AI SDK")


def run_ai_sdk(node: str, gateway, api: str, stream: bool, output: bool = False) -> dict[str, Any]:
    env = {
        **os.environ,
        "GATEWAY_URL": f"{gateway.url}/v1",
        "GATEWAY_API_KEY": API_KEY,
        "AI_SDK_API": "chat" if api == "chat_completions" else "responses",
        "AI_SDK_STREAM": "1" if stream else "0",
        "AI_SDK_OUTPUT": "1" if output else "0",
    }
    done = subprocess.run([node, "run.mjs"], cwd=AI_SDK_PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.node
@pytest.mark.parametrize("stream", [False, True], ids=["generateText", "streamText"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_vercel_ai_sdk_runs_tools_over_several_steps(ai_sdk, gateway, fake, api, stream):
    fake.default = agent(*TRAVEL)
    run = run_ai_sdk(ai_sdk, gateway, api, stream)

    assert [tuple(call) for call in run["executed"]] == TRAVEL_CALLS
    assert claude_received(fake) == TRAVEL_RESULTS
    assert run["text"] == TRAVEL_ANSWER
    assert run["finishReasons"] == ["tool-calls", "tool-calls", "stop"]
    assert [(sent["path"], sent["status"], sent["ignored"]) for sent in run["sent"]] == [(PATHS[api], 200, None)] * 3


def travel_then_structured_output(body: dict[str, Any]) -> Reply:
    """The TRAVEL steps, then the answer through Claude Code's structured-output tool."""
    reply = agent(*TRAVEL)(body)
    if reply.tool_uses:
        return reply
    return Reply(tool_uses=[{"name": "StructuredOutput", "input": {"reports": tool_results(body)}}])


@pytest.mark.node
@pytest.mark.parametrize("stream", [False, True], ids=["generateText", "streamText"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_vercel_ai_sdk_output_with_tools_over_several_steps(ai_sdk, gateway, fake, api, stream):
    fake.default = travel_then_structured_output
    run = run_ai_sdk(ai_sdk, gateway, api, stream, output=True)

    assert [tuple(call) for call in run["executed"]] == TRAVEL_CALLS
    assert run["output"] == {"reports": TRAVEL_RESULTS}
    assert run["finishReasons"] == ["tool-calls", "tool-calls", "stop"]
    assert [(sent["path"], sent["status"], sent["ignored"]) for sent in run["sent"]] == [(PATHS[api], 200, None)] * 3


# --- a plain openai loop: no step spawns a process --------------------------------------------------


@pytest.fixture(scope="module")
def keyless_gateway(upstream, cli_config_dir, tmp_path_factory):
    """Keyless, so that /v1/sessions/stats shows the whole process pool."""
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "frameworks-keyless", api_keys="")


def pool(gateway) -> dict[str, int]:
    return httpx.get(f"{gateway.url}/v1/sessions/stats", timeout=10).json()["gateway"]["processes"]


def settled(gateway) -> bool:
    """Every process the pool counts is a live child of the gateway, and the spare is up."""
    stats = pool(gateway)
    return stats["spares"] >= 1 and stats["exiting"] == 0 and len(gateway.clis()) == stats["live"]


def test_a_streamed_ten_step_openai_loop_spawns_no_process_after_the_first(keyless_gateway, fake):
    gateway = keyless_gateway
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="none", max_retries=0, timeout=60)
    fake.default = agent(*[[("lookup", {"step": step})] for step in range(10)])
    lookup = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"step": {"type": "integer"}}, "required": ["step"]},
        },
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Do ten lookups."}]
    for step in range(10):
        message, finish = streamed_step(client, messages, [lookup])
        assert finish == "tool_calls", (step, message)
        (call,) = message["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == {"step": step}
        messages += [message, {"role": "tool", "tool_call_id": call["id"], "content": f"r{step}"}]
        if step == 0:
            # The first step took a process (and the pool topped its spare up): from here on the
            # same turn is held for the results, and no step may start or lose a Claude process.
            assert wait_until(lambda: settled(gateway)), (pool(gateway), gateway.clis())
            children, stats = set(gateway.clis()), pool(gateway)
        else:
            assert set(gateway.clis()) == children, step
    message, finish = streamed_step(client, messages, [lookup])
    assert finish == "stop"
    assert message["content"] == "results: " + " | ".join(f"r{step}" for step in range(10))
    assert set(gateway.clis()) == children
    after = pool(gateway)
    assert (after["spawned_total"], after["spares_started"]) == (stats["spawned_total"], stats["spares_started"])
