"""Hostile and malformed requests get a clear 4xx in the door's own envelope: never a 500, never a
hang. In-process, with the scripted engine (no Claude involved): every case here fails before a
turn would start."""

from __future__ import annotations

import json

import pytest

from tests.support import make_client

CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "sonnet", "input": "hi"}


async def post(path: str, body: dict | bytes, **settings):
    client, engine = make_client(**settings)
    async with client:
        if isinstance(body, bytes):
            response = await client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = await client.post(path, json=body)
    return response, engine


def openai_error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


# --- Responses input items of the wrong type ------------------------------------------------------
@pytest.mark.parametrize(
    "item, param",
    [
        ({"type": "function_call", "call_id": "c1", "name": "f", "arguments": {"a": 1}}, "input[0].arguments"),
        ({"role": "user", "content": {"text": "hi"}}, "input[0].content"),
        ({"role": "user", "content": 5}, "input[0].content"),
        ({"role": "user", "content": ["hi"]}, "input[0].content[0]"),
        ({"role": "user", "content": [{"type": "input_text", "text": 5}]}, "input[0].content[0].text"),
        ({"type": "function_call", "call_id": "c1", "name": 5, "arguments": "{}"}, "input[0].name"),
        ({"type": "function_call", "call_id": ["c1"], "name": "f", "arguments": "{}"}, "input[0].call_id"),
        ({"type": "function_call_output", "call_id": 7, "output": "x"}, "input[0].call_id"),
        ({"type": "function_call_output", "call_id": "c1", "output": {"a": 1}}, "input[0].output"),
        ({"role": "tool", "content": "x"}, "input[0].role"),
        ({"type": "image_generation_call"}, "input[0]"),
        ({"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}, "input[0].content[0].file_id"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}, "input[0].content[0]"),
        (5, "input[0]"),
        ({"content": "no role, no type"}, "input[0]"),
        ({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "[1, 2]"}, "input[0].arguments"),
    ],
)
async def test_responses_items_of_the_wrong_type_are_400_naming_the_path(item, param):
    response, engine = await post("/v1/responses", {**RESPONSES, "input": [item, {"role": "user", "content": "go"}]})
    error = openai_error(response)
    assert error["param"] == param, error
    assert engine.turns == []


async def test_a_responses_item_error_names_what_is_accepted():
    response, _ = await post("/v1/responses", {**RESPONSES, "input": [{"type": "item_reference", "id": "x"}]})
    message = openai_error(response)["message"]
    assert "'item_reference'" in message and "'function_call_output'" in message and "()" not in message


async def test_well_formed_responses_items_still_reach_the_turn():
    items = [
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "sunny"}]},
    ]
    response, engine = await post("/v1/responses", {**RESPONSES, "input": items})
    assert response.status_code == 200, response.text
    (turn,) = engine.turns
    assert turn.system == "Be brief."
    assert [m.role for m in turn.messages] == ["user", "assistant", "user"]
    assert turn.messages[1].content == [
        {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert turn.messages[2].content == [{"type": "tool_result", "tool_use_id": "c1", "content": "sunny"}]


# --- JSON nested too deeply, numbers too big, text that is not Unicode ----------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses", "/v1/messages/count_tokens"])
async def test_json_nested_100000_deep_is_400_invalid_json(path):
    response, _ = await post(path, b'{"model": "sonnet", "x": ' + DEEP + b"}")
    error = openai_error(response) if not path.startswith("/v1/messages") else None
    if error is not None:
        assert error["code"] == "invalid_json" and "nested" in error["message"]
    else:
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


async def test_a_schema_nested_past_the_limit_is_refused_before_anything_walks_it():
    # 900 levels: Python's json parses it, then json.dumps of the tool schema would fail later.
    tool = {"type": "function", "function": {"name": "deep", "parameters": nested(450)}}
    response, engine = await post("/v1/chat/completions", {**CHAT, "tools": [tool]})
    assert openai_error(response)["code"] == "invalid_json" and engine.turns == []


async def test_function_arguments_nested_100000_deep_are_400_naming_them():
    arguments = "[" * 100_000 + "]" * 100_000
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    response, _ = await post("/v1/chat/completions", {**CHAT, "messages": messages})
    assert openai_error(response)["param"] == "messages[1].tool_calls[0].function.arguments"
    items = [
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": arguments},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]
    response, _ = await post("/v1/responses", {**RESPONSES, "input": items})
    assert openai_error(response)["param"] == "input[0].arguments"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "sonnet", "messages": [{"role": "user", "content": "\\ud800"}]}',
        b'{"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "seed": ' + b"9" * 5000 + b"}",
        b'{"model": "sonnet", "messages": [{"role": "user", "content": "\xff"}]}',
    ],
    ids=["lone surrogate", "5000-digit integer", "not UTF-8"],
)
async def test_json_python_would_take_but_no_answer_could_carry_is_400(raw):
    response, engine = await post("/v1/chat/completions", raw)
    assert openai_error(response)["code"] == "invalid_json" and engine.turns == []


async def test_an_infinite_number_in_a_tool_schema_cannot_break_the_answer_after_the_turn():
    # The Responses API echoes the tools back: an infinity in them made the answer fail (500)
    # after the turn had run.
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "maximum": 1}}
    raw = json.dumps({**RESPONSES, "tools": [tool]}).replace('"maximum": 1', '"maximum": 1e999').encode()
    response, engine = await post("/v1/responses", raw)
    assert openai_error(response)["code"] == "invalid_json" and engine.turns == []


async def test_an_infinite_number_in_a_tool_input_cannot_break_the_session_listing():
    # Kept in the session's history, it made GET /v1/sessions/{id} fail with a 500.
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    raw = json.dumps({**MESSAGES, "messages": messages, "session_id": "s1"}).replace('{"x": 1}', '{"x": 1e400}')
    client, engine = make_client()
    async with client:
        response = await client.post("/v1/messages", content=raw.encode())
        listing = await client.get("/v1/sessions/s1")
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert listing.status_code == 404 and engine.turns == []


# --- unknown field names in the X-Gateway-Ignored-Params header ---------------------------------
async def test_thousands_of_unknown_fields_give_a_short_ignored_params_header():
    fields = {f"field_{i:05d}_\u00e9\u6e29": i for i in range(5000)}
    response, _ = await post("/v1/chat/completions", {**CHAT, **fields})
    assert response.status_code == 200, response.text
    header = response.headers["x-gateway-ignored-params"]
    assert len(header) < 1100 and header.startswith("field_00000_%C3%A9%E6%B8%A9,")
    shown = header.count(",")
    assert header.endswith(f",...({5000 - shown} more)")


async def test_strict_mode_names_a_hostile_field_in_the_body_only():
    client, engine = make_client(strict_params=True)
    async with client:
        response = await client.post(
            "/v1/chat/completions", json={**CHAT, "a\r\nSet-Cookie: x=1\u6e29" + "x" * 5000: 1}
        )
    error = openai_error(response)
    assert error["code"] == "unsupported_parameter" and error["param"].startswith("a\r\nSet-Cookie: x=1\u6e29")
    assert len(error["message"]) < 500 and "set-cookie" not in response.headers and engine.turns == []


# --- a tool result with no call before it -------------------------------------------------------
ORPHANS = [
    (
        "/v1/chat/completions",
        {
            **CHAT,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_orphan", "content": "r"},
            ],
        },
    ),
    (
        "/v1/chat/completions",
        {
            **CHAT,
            "n": 2,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_orphan", "content": "r"},
            ],
        },
    ),
    (
        "/v1/chat/completions",
        {
            **CHAT,
            "messages": [  # answers a call, but not of the message before it
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_orphan", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_orphan", "content": "r"},
                {"role": "assistant", "content": "done"},
                {"role": "tool", "tool_call_id": "call_orphan", "content": "again"},
            ],
        },
    ),
    (
        "/v1/messages",
        {
            **MESSAGES,
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_orphan", "content": "r"}]}
            ],
        },
    ),
    (
        "/v1/messages",
        {
            **MESSAGES,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_orphan", "content": "r"}]},
            ],
        },
    ),
    (
        "/v1/responses",
        {
            **RESPONSES,
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "function_call_output", "call_id": "call_orphan", "output": "r"},
            ],
        },
    ),
]


@pytest.mark.parametrize("path, body", ORPHANS)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_result_without_its_call_is_400_naming_the_id(path, body, stream):
    response, engine = await post(path, {**body, "stream": stream})
    assert response.status_code == 400, response.text
    if path == "/v1/messages":
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
    else:
        error = openai_error(response)
        assert error["code"] == "orphan_tool_result"
    assert "'call_orphan'" in error["message"]
    assert engine.turns == []


async def test_a_tool_result_in_a_named_session_may_answer_a_call_in_its_history():
    # The scripted engine does not call functions: the session's history gets the call from a
    # client that sent it itself; the next request sends only the result.
    client, engine = make_client()
    call = {
        "role": "assistant",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    async with client:
        first = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "session_id": "s1",
                "messages": [
                    {"role": "user", "content": "hi"},
                    call,
                    {"role": "tool", "tool_call_id": "c1", "content": "r1"},
                ],
            },
        )
        orphan = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "session_id": "s1", "messages": [{"role": "tool", "tool_call_id": "c1", "content": "r2"}]},
        )  # c1 is not the last answer's call
        other = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "session_id": "s2", "messages": [{"role": "tool", "tool_call_id": "c1", "content": "r2"}]},
        )
    assert first.status_code == 200, first.text
    assert orphan.status_code == 400 and other.status_code == 400
    assert len(engine.turns) == 1


# --- output limits above what Claude Code asks for ----------------------------------------------
@pytest.mark.parametrize(
    "path, body, name",
    [
        ("/v1/chat/completions", {**CHAT, "max_tokens": 2**70}, "max_tokens"),
        ("/v1/chat/completions", {**CHAT, "max_completion_tokens": 200_000}, "max_completion_tokens"),
        ("/v1/messages", {**MESSAGES, "max_tokens": 2**70}, "max_tokens"),
        ("/v1/responses", {**RESPONSES, "max_output_tokens": 2**70}, "max_output_tokens"),
    ],
)
async def test_an_output_limit_over_the_maximum_is_clamped_and_named(path, body, name):
    response, engine = await post(path, body)
    assert response.status_code == 200, response.text
    assert engine.turns[0].max_output_tokens == 128_000
    assert response.headers["x-gateway-ignored-params"] == name
    refused, engine = await post(path, body, strict_params=True)
    assert refused.status_code == 400 and engine.turns == []
    if path != "/v1/messages":
        assert openai_error(refused)["param"] == name


async def test_an_output_limit_within_the_maximum_is_applied_as_asked():
    response, engine = await post("/v1/messages", {**MESSAGES, "max_tokens": 128_000})
    assert engine.turns[0].max_output_tokens == 128_000 and "x-gateway-ignored-params" not in response.headers


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/chat/completions", {**CHAT, "n": 2**70}),
        ("/v1/chat/completions", {**CHAT, "top_logprobs": 2**70}),
        ("/v1/chat/completions", {**CHAT, "max_tokens": -(2**70)}),
        ("/v1/messages", {**MESSAGES, "thinking": {"type": "enabled", "budget_tokens": -(2**70)}}),
        ("/v1/messages", {**MESSAGES, "top_k": -1}),
    ],
)
async def test_huge_or_negative_integers_are_400(path, body):
    response, engine = await post(path, body)
    assert response.status_code == 400, response.text
    assert engine.turns == []


@pytest.mark.parametrize("arguments", ["[1, 2]", '"text"', "3"])
async def test_chat_function_arguments_must_be_a_json_object(arguments):
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    response, engine = await post("/v1/chat/completions", {**CHAT, "messages": messages})
    assert openai_error(response)["param"] == "messages[1].tool_calls[0].function.arguments"
    assert engine.turns == []


async def test_n_over_one_with_a_session_is_400_not_silently_a_new_conversation():
    response, engine = await post("/v1/chat/completions", {**CHAT, "n": 2, "session_id": "mine"})
    error = openai_error(response)
    assert error["param"] == "n" and "session" in error["message"]
    assert engine.turns == []


@pytest.mark.parametrize("call", [None, 5, "c1", []])
async def test_a_tool_call_that_is_not_an_object_is_400_naming_it(call):
    """Found by the schema fuzzer: a `tool_calls` entry that is not an object reached the custom-tool
    discriminator as is, and was a 500."""
    body = {
        "model": "sonnet",
        "messages": [{"role": "assistant", "tool_calls": [call]}, {"role": "user", "content": "x"}],
    }
    response, engine = await post("/v1/chat/completions", body)
    assert openai_error(response)["param"] == "messages[0].tool_calls[0]"
    assert engine.turns == []
