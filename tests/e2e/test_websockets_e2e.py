"""The WebSocket doors over a real server with the real CLI: the OpenAI Agents SDK's WebSocket
Responses model runs a tool loop on one socket, and a `websockets` client on the chat socket cancels
a turn, and then leaves in the middle of one, with no CLI left behind either time."""

from __future__ import annotations

import json

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply, agent, tool_results
from tests.support import alive, conversation, texts, wait_until

pytestmark = pytest.mark.e2e

WEATHER = {"Oslo": "cold, 3 C", "Rome": "sunny, 24 C"}
STEPS = ([("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome"})], [("get_weather", {"city": "Oslo"})])


@pytest.fixture(scope="module")
def gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway without spare processes: every CLI it has is one a conversation uses."""
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "websockets", spare_processes="0")


async def test_the_agents_sdk_websocket_model_runs_a_tool_loop_on_one_socket(gateway, fake):
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # tracing would post every run to OpenAI's servers
    fake.default = agent(*STEPS)
    asked: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(city)
        return WEATHER[city]

    client = AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0)
    model = agents.OpenAIResponsesWSModel(model="sonnet", openai_client=client)
    assistant = agents.Agent(name="weather", instructions="Answer with the tools.", tools=[get_weather], model=model)
    try:
        # previous_response_id chains each step to the last: only the function outputs go up.
        result = await agents.Runner.run(assistant, "Weather in Oslo and Rome?", auto_previous_response_id=True)
        socket, calls = model._ws_connection, len(fake.requests)
        again = await agents.Runner.run(assistant, "And Oslo again?", previous_response_id=result.last_response_id)
        assert model._ws_connection is socket  # the same socket carried both runs
    finally:
        await model.close()

    assert asked == ["Oslo", "Rome", "Oslo"]  # Claude's calls reached the SDK's tool
    assert tool_results(fake.requests[calls - 1]) == ["cold, 3 C", "sunny, 24 C", "cold, 3 C"]  # and back
    assert result.final_output == "results: cold, 3 C | sunny, 24 C | cold, 3 C"
    # The second run named the first's last response: Claude got the whole conversation.
    said = texts(conversation(fake.requests[-1]))
    assert said[0] == ("user", "Weather in Oslo and Rome?") and said[-1] == ("user", "And Oslo again?")
    assert again.final_output
    assert "Answer with the tools." in json.dumps(fake.requests[-1]["system"])


async def test_a_chat_socket_cancel_and_a_close_leave_no_cli_behind(gateway, fake):
    def chat(text: str) -> str:
        return json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": text}]})

    async def until_finished(ws) -> list[dict]:
        chunks = []
        while True:
            chunks.append(json.loads(await ws.recv()))
            if "error" in chunks[-1] or any(c["finish_reason"] for c in chunks[-1]["choices"]):
                return chunks

    async def until_text(ws, text: str) -> None:
        while text not in await ws.recv():
            pass

    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = gateway.url.replace("http://", "ws://") + "/v1/chat/ws"
    earlier = set(gateway.clis())  # the conversations of other tests
    async with connect(url, additional_headers=headers) as ws:
        session = ws.response.headers["X-Session-Id"]
        await ws.send(chat("first"))
        await until_finished(ws)
        fake.enqueue(Reply(text="z" * 400, chunk_size=2, delay=0.05))
        await ws.send(chat("talk at length"))
        await until_text(ws, "zz")  # mid-turn
        running = set(gateway.clis()) - earlier
        assert running
        await ws.send(json.dumps({"type": "cancel"}))
        ended = await until_finished(ws)
        assert ended[-1]["error"]["code"] == "cancelled"
        assert wait_until(lambda: not any(alive(pid) for pid in running), timeout=10)  # the cancelled turn's CLI

        await ws.send(chat("after"))  # the session goes on without the cancelled turn
        await until_finished(ws)
        assert texts(conversation(fake.requests[-1])) == [
            ("user", "first"),
            ("assistant", "echo: first"),
            ("user", "after"),
        ]
        fake.enqueue(Reply(text="y" * 400, chunk_size=2, delay=0.05))
        await ws.send(chat("talk again"))
        await until_text(ws, "yy")
    # The socket closed mid-turn: the turn stopped, and the socket's session ended with its CLI.
    assert session.startswith("ws-")
    assert wait_until(lambda: set(gateway.clis()) <= earlier, timeout=10)
