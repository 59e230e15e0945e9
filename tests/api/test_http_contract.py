"""The HTTP contract of the app itself (in-process, with a scripted engine): envelopes and limits."""

from __future__ import annotations

import json

import pytest

from tests.support import make_client

BODY = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}


async def test_completion_through_the_app():
    client, engine = make_client()
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "hi"
    assert engine.turns[0].tenant == "anonymous"


async def test_malformed_json_is_400_in_the_openai_envelope():
    client, engine = make_client()
    async with client:
        response = await client.post(
            "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_json" and error["type"] == "invalid_request_error"
    assert engine.turns == []


@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"42"])
async def test_a_body_that_is_not_an_object_is_400(payload):
    client, _ = make_client()
    async with client:
        response = await client.post("/v1/chat/completions", content=payload)
    assert response.status_code == 400


async def test_validation_errors_are_400_not_422():
    client, _ = make_client()
    async with client:
        response = await client.post("/v1/chat/completions", json={"model": "sonnet"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


async def test_body_over_the_limit_is_413_even_with_a_lying_content_length():
    client, engine = make_client(max_body_bytes=2048)
    big = b'{"model":"sonnet","messages":[{"role":"user","content":"' + b"x" * 5000 + b'"}]}'

    async def chunks():  # streamed, so no honest Content-Length is sent
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async with client:
        declared = await client.post("/v1/chat/completions", content=big)
        streamed = await client.post("/v1/chat/completions", content=chunks())
        lying = await client.post("/v1/chat/completions", content=chunks(), headers={"content-length": "100"})
    for response in (declared, streamed, lying):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "request_too_large"
    assert engine.turns == []


async def test_unknown_route_and_wrong_method_use_the_envelope():
    client, _ = make_client()
    async with client:
        missing = await client.get("/v1/nothing")
        wrong = await client.get("/v1/chat/completions")
    assert missing.status_code == 404 and "error" in missing.json()
    assert wrong.status_code == 405 and "error" in wrong.json()


async def test_anthropics_envelope_is_for_its_own_paths_only():
    """Anthropic's envelope on /v1/messages and /v1/organizations and below them; a path that
    only starts with the same letters is another route (here none): OpenAI's, as every other."""
    client, _ = make_client()
    async with client:
        anthropic = [await client.get(p) for p in ("/v1/messages/nothing", "/v1/organizations/nothing")]
        openai = [await client.get(p) for p in ("/v1/messagesx", "/v1/organizations_x", "/v1/organizations2")]
    for answer in anthropic:
        assert answer.status_code == 404 and answer.json()["type"] == "error", answer.text
    for answer in openai:
        assert answer.status_code == 404 and "type" not in answer.json(), answer.text
        assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer k2"}, 200),
        ({"authorization": "bearer k1"}, 200),
        ({"x-api-key": "k1"}, 200),
        ({"x-api-key": "k1x"}, 401),
    ],
)
async def test_api_keys(headers, status):
    client, _ = make_client(api_keys="k1, k2")
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["code"] == "invalid_api_key"


async def test_each_key_is_its_own_tenant():
    client, engine = make_client(api_keys="k1,k2")
    async with client:
        await client.post("/v1/chat/completions", json=BODY, headers={"x-api-key": "k1"})
        await client.post("/v1/chat/completions", json=BODY, headers={"x-api-key": "k2"})
    first, second = (turn.tenant for turn in engine.turns)
    assert first != second and "k1" not in first


@pytest.mark.parametrize("where", ["body", "header"])
async def test_session_ids_are_validated(where):
    client, engine = make_client()
    bad = "../../etc/passwd"
    async with client:
        if where == "body":
            response = await client.post("/v1/chat/completions", json={**BODY, "session_id": bad})
        else:
            response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Session-Id": bad})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == ("session_id" if where == "body" else "X-Session-Id")
    assert engine.turns == []


async def test_the_response_names_its_session():
    client, _ = make_client()
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Session-Id": "s-1"})
    assert response.headers["x-session-id"] == "s-1"


@pytest.mark.parametrize(
    "strict_setting, header, status",
    [(False, None, 200), (False, "true", 400), (True, None, 400), (True, "false", 200)],
)
async def test_strict_mode_server_wide_and_per_request(strict_setting, header, status):
    client, engine = make_client(strict_params=strict_setting)
    headers = {"X-Gateway-Strict": header} if header else {}
    async with client:
        response = await client.post("/v1/chat/completions", json={**BODY, "top_p": 0.5}, headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response.headers["x-gateway-ignored-params"] == "top_p"
    else:
        assert response.json()["error"]["param"] == "top_p" and engine.turns == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "127.0.0.1.nip.io:8000"},  # a DNS-rebinding page's own name for 127.0.0.1
        {"Host": "localhost.evil"},
        {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1.attacker.example"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_keyless_gateway_refuses_rebinding_names(headers, path):
    client, engine = make_client()
    async with client:
        response = await client.post(path, json={**BODY, "max_tokens": 5}, headers=headers)
        listing = await client.get("/v1/sessions", headers=headers)
    assert response.status_code == 403 and listing.status_code == 403
    error = response.json()["error"]
    assert (error.get("code") or error["type"]) in ("keyless_gateway", "permission_error")
    assert engine.turns == []


HUGE_MODEL = "claude-" + "x" * 300_000  # a served-looking name: it would reach the CLI's command line


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/responses", {"input": "hi"}),
        ("/v1/messages", {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/messages/count_tokens", {"messages": [{"role": "user", "content": "hi"}]}),
    ],
)
async def test_a_huge_model_name_is_a_400_on_every_door(path, body):
    client, engine = make_client(max_body_bytes=1_000_000)
    async with client:
        response = await client.post(path, json={**body, "model": HUGE_MODEL})
    assert response.status_code == 400, response.text[:300]
    assert "x" * 300 not in response.text  # not echoed either
    assert engine.turns == []


@pytest.mark.parametrize(
    "path, body, tool",
    [
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}]},
            {"type": "function", "function": {"name": "f", "parameters": {}}},
        ),
        ("/v1/responses", {"input": "hi"}, {"type": "function", "name": "f", "parameters": {}}),
        (
            "/v1/messages",
            {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            {"name": "f", "input_schema": {"type": "object"}},
        ),
    ],
)
async def test_more_functions_than_openai_takes_is_a_400(path, body, tool):
    client, engine = make_client(max_body_bytes=1_000_000)
    async with client:
        response = await client.post(path, json={**body, "model": "sonnet", "tools": [tool] * 129})
    assert response.status_code == 400, response.text[:300]
    assert engine.turns == []


@pytest.mark.parametrize(
    "path, model, required, envelope",
    [
        ("/v1/chat/completions", "ChatCompletionRequest", {"model", "messages"}, "OpenAIErrorResponse"),
        ("/v1/messages", "MessagesRequest", {"model", "max_tokens", "messages"}, "AnthropicErrorResponse"),
        ("/v1/responses", "ResponsesRequest", {"model", "input"}, "OpenAIErrorResponse"),
    ],
)
async def test_openapi_publishes_the_request_bodies_and_error_statuses(path, model, required, envelope):
    client, _ = make_client()
    async with client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"][path]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{model}"}
    assert set(document["components"]["schemas"][model]["required"]) == required
    for status in ("400", "401", "404", "408", "413", "429", "502", "504"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": f"#/components/schemas/{envelope}"}
    sessions = document["paths"]["/v1/sessions/{session_id}"]
    assert "404" in sessions["get"]["responses"] and "404" in sessions["delete"]["responses"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_stored_response_is_the_one_the_client_was_given(stream):
    client, _ = make_client()
    async with client:
        response = await client.post("/v1/responses", json={"model": "sonnet", "input": "hi", "stream": stream})
        if stream:
            events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
            given = next(e["response"] for e in events if e["type"] == "response.completed")
        else:
            given = response.json()
        stored = await client.get(f"/v1/responses/{given['id']}")
    assert stored.status_code == 200
    assert stored.json() == given  # the same item ids and creation time: built once
