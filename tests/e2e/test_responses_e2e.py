"""OpenAI Responses API end to end: the openai client's responses.create -> gateway -> real Claude Code."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.upstream import Reply
from tests.support import conversation, texts

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_create_text(client, fake):
    fake.enqueue(Reply(text="Hello there", input_tokens=8, output_tokens=2))
    response = client.responses.create(model="sonnet", input="Hi", instructions="Be brief.")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "Hello there"
    assert response.output[0].type == "message" and response.output[0].content[0].type == "output_text"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (8, 2)
    assert "Be brief." in " ".join(b["text"] for b in fake.requests[-1]["system"])


def test_stream_events(client, fake):
    fake.enqueue(Reply(text="streamed words", chunk_size=4))
    events = list(client.responses.create(model="sonnet", input="go", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "streamed words"
    assert events[-1].response.output_text == "streamed words"


def test_previous_response_id_continues_the_conversation(client, fake):
    first = client.responses.create(model="sonnet", input="My name is Ann.")
    second = client.responses.create(model="sonnet", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert texts(conversation(fake.requests[-1])) == [
        ("user", "My name is Ann."),
        ("assistant", "echo: My name is Ann."),
        ("user", "What is my name?"),
    ]


def test_function_call_round_trip_with_previous_response_id(client, fake):
    fake.enqueue(
        Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Oslo"}}]), Reply(text="Sunny in Oslo.")
    )
    first = client.responses.create(model="sonnet", input="Weather in Oslo?", tools=[WEATHER])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    second = client.responses.create(
        model="sonnet",
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Sunny in Oslo."
    assert '"sunny"' in json.dumps(fake.requests[-1]["messages"])


def test_a_namespace_function_round_trip_as_codex_sends_it(client, fake):
    """A namespace tool's function reaches Claude under a name of its own and comes back with its
    own name and namespace; sent back stateless (store: false, the whole input, as Codex does), the
    call continues the held turn."""
    fake.enqueue(
        Reply(tool_uses=[{"name": "mcp__client__crm__lookup", "input": {"id": 7}}]), Reply(text="Ada, customer 7.")
    )
    lookup = {
        "type": "function",
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    tools = [WEATHER, {"type": "namespace", "name": "crm", "description": "The CRM", "tools": [lookup]}]
    asked = [{"role": "user", "content": "Who is customer 7?"}]
    first = client.responses.create(model="sonnet", input=asked, tools=tools, store=False)
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert (call.name, call.namespace, json.loads(call.arguments)) == ("lookup", "crm", {"id": 7})
    assert "mcp__client__crm__lookup" in [t["name"] for t in fake.requests[-1]["tools"]]
    sent_back = [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "Ada"},
    ]
    second = client.responses.create(model="sonnet", input=asked + sent_back, tools=tools, store=False)
    assert second.output_text == "Ada, customer 7."
    assert '"Ada"' in json.dumps(fake.requests[-1]["messages"])


def test_streamed_function_call(client, fake):
    fake.enqueue(Reply(tool_uses=[{"name": "mcp__client__get_weather", "input": {"city": "Rome"}}]))
    events = list(client.responses.create(model="sonnet", input="Weather in Rome?", tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Rome"}


def test_stored_responses_can_be_read_and_deleted(client, fake):
    created = client.responses.create(model="sonnet", input="remember this")
    assert client.responses.retrieve(created.id).output_text == "echo: remember this"
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="sonnet", input="x", previous_response_id=created.id)


def test_structured_output_through_text_format(client, fake):
    fake.enqueue(Reply(tool_uses=[{"name": "StructuredOutput", "input": {"name": "Ann"}}]))
    response = client.responses.create(
        model="sonnet",
        input="A person",
        text={
            "format": {
                "type": "json_schema",
                "name": "person",
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                    "additionalProperties": False,
                },
            }
        },
    )
    assert json.loads(response.output_text) == {"name": "Ann"}


def test_max_output_tokens_makes_it_incomplete(client, fake):
    fake.enqueue(Reply(text="cut", stop_reason="max_tokens"))
    response = client.responses.create(model="sonnet", input="long", max_output_tokens=16)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"


def test_max_output_tokens_inside_a_function_call_is_incomplete(client, fake):
    cut = {"name": "mcp__client__get_weather", "partial_json": '{"city": "Os'}
    fake.enqueue(Reply(tool_uses=[cut], stop_reason="max_tokens"))
    response = client.responses.create(model="sonnet", input="Weather?", tools=[WEATHER], max_output_tokens=20)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.arguments == '{"city": "Os'
