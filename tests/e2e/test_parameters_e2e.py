"""OpenAI parameters end to end: structured output, stop, effort, and what is reported as ignored."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.e2e.conftest import API_KEY
from tests.fakes.upstream import Reply
from tests.support import wait_until

pytestmark = pytest.mark.e2e

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


def structured_reply(value):
    return Reply(tool_uses=[{"name": "StructuredOutput", "input": value}])


def test_structured_output_with_a_schema(client, fake):
    fake.enqueue(structured_reply({"name": "Ann", "age": 31}))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Invent a person."}], response_format=SCHEMA_FORMAT
    )
    assert json.loads(response.choices[0].message.content) == {"name": "Ann", "age": 31}
    assert response.choices[0].finish_reason == "stop"
    offered = {tool["name"]: tool for tool in fake.requests[-1]["tools"]}
    assert offered["StructuredOutput"]["input_schema"]["properties"] == PERSON["properties"]


def test_structured_output_streams_the_json(client, fake):
    fake.enqueue(structured_reply({"name": "Bo", "age": 7}))
    chunks = list(
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "Invent a person."}],
            response_format=SCHEMA_FORMAT,
            stream=True,
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1  # streamed as Claude writes it
    assert json.loads("".join(pieces)) == {"name": "Bo", "age": 7}
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_json_object_mode(client, fake):
    fake.enqueue(structured_reply({"anything": [1, 2]}))
    response = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Some JSON please."}],
        response_format={"type": "json_object"},
    )
    assert json.loads(response.choices[0].message.content) == {"anything": [1, 2]}


def test_openai_parse_helper_gets_a_typed_object(client, fake):
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    fake.enqueue(structured_reply({"name": "Cy", "age": 40}))
    completion = client.beta.chat.completions.parse(
        model="sonnet", messages=[{"role": "user", "content": "Invent a person."}], response_format=Person
    )
    assert completion.choices[0].message.parsed == Person(name="Cy", age=40)


def test_stop_cuts_a_stream_and_ends_the_turn(client, cold_gateway, fake):
    fake.enqueue(Reply(text="Thought: look it up\nObservation: it rains\nmore text", chunk_size=3))
    cold = openai.OpenAI(base_url=f"{cold_gateway.url}/v1", api_key=API_KEY, max_retries=0)
    chunks = list(
        cold.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "weather?"}], stop=["Observation:"], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Thought: look it up\n"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert wait_until(lambda: cold_gateway.children() == [], timeout=6)  # the turn was stopped


def test_stop_in_a_whole_response(client, fake):
    fake.enqueue(Reply(text="one, two, three, four"))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "count"}], stop=", three"
    )
    assert response.choices[0].message.content == "one, two"
    assert response.choices[0].finish_reason == "stop"


def test_reasoning_effort_reaches_claude(client, fake):
    client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "think"}], reasoning_effort="high"
    )
    assert fake.requests[-1]["output_config"]["effort"] == "high"


def test_ignored_parameters_are_named_in_a_header(client, fake):
    raw = client.chat.completions.with_raw_response.create(
        model="sonnet", messages=[{"role": "user", "content": "hi"}], temperature=0.3, top_p=0.9, seed=4
    )
    assert raw.headers["x-gateway-ignored-params"] == "temperature,top_p,seed"
    plain = client.chat.completions.with_raw_response.create(
        model="sonnet", messages=[{"role": "user", "content": "hi"}]
    )
    assert "x-gateway-ignored-params" not in plain.headers


def test_strict_mode_refuses_what_it_would_ignore(client, fake):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0.3,
            extra_headers={"X-Gateway-Strict": "true"},
        )
    assert caught.value.body["param"] == "temperature"
    assert caught.value.body["code"] == "unsupported_parameter"
    assert fake.requests == []


def test_user_and_metadata_are_kept_with_the_session(gateway, client, fake):
    client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "hi"}],
        user="end-user-7",
        metadata={"project": "apollo"},
        extra_body={"session_id": "with-metadata"},
    )
    details = httpx.get(f"{gateway.url}/v1/sessions/with-metadata", headers={"x-api-key": API_KEY}).json()
    assert details["user"] == "end-user-7" and details["metadata"] == {"project": "apollo"}


def test_n_returns_independent_choices(client, fake):
    fake.enqueue(
        Reply(text="first idea", output_tokens=2),
        Reply(text="second idea", output_tokens=3),
        Reply(text="third idea", output_tokens=4),
    )
    response = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "ideas"}], n=3)
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert {c.message.content for c in response.choices} == {"first idea", "second idea", "third idea"}
    assert response.usage.completion_tokens == 9
    assert len(fake.requests) == 3  # three real, independent turns


def test_n_streams_every_choice_with_its_index(client, fake):
    fake.enqueue(Reply(text="alpha beta", chunk_size=2), Reply(text="gamma delta", chunk_size=2))
    chunks = list(
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "two"}],
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks[:-1]:
        choice = chunk.choices[0]
        texts[choice.index] += choice.delta.content or ""
        if choice.finish_reason:
            finishes[choice.index] = choice.finish_reason
    assert set(texts.values()) == {"alpha beta", "gamma delta"}
    assert finishes == {0: "stop", 1: "stop"}
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 14


def test_langchain_with_structured_output(gateway, fake):
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    fake.enqueue(structured_reply({"name": "Di", "age": 52}))
    llm = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, model="sonnet", max_retries=0)
    person = llm.with_structured_output(Person, method="json_schema").invoke("Invent a person.")
    assert person == Person(name="Di", age=52)
    offered = {tool["name"] for tool in fake.requests[-1]["tools"]}
    assert "StructuredOutput" in offered


def test_langchain_plain_chat_and_stream(gateway, fake):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, model="sonnet", max_retries=0)
    assert llm.invoke("hello there").content == "echo: hello there"
    assert "".join(chunk.content for chunk in llm.stream("stream it")) == "echo: stream it"
