"""The client's mistakes that only Claude Code or Claude can see, end to end: a clear 4xx in each
door's own envelope, never a 5xx. Real bundled CLI, fake Anthropic API, gateway as a real server."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.e2e


def door(path: str, text: str) -> dict:
    if path == "/v1/messages":
        return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    if path == "/v1/responses":
        return {"model": "sonnet", "input": text}
    return {"model": "sonnet", "messages": [{"role": "user", "content": text}]}


def post(gateway, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)


def error_of(response: httpx.Response, path: str) -> tuple[str, str]:
    """(code or type, message) from either envelope, checking that it is the door's own."""
    body = response.json()
    if path == "/v1/messages":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        return body["error"]["type"], body["error"]["message"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]["code"], body["error"]["message"]


DOORS = ["/v1/chat/completions", "/v1/messages", "/v1/responses"]


# --- a prompt too long for the model ----------------------------------------------------------------
@pytest.mark.parametrize("path", DOORS)
def test_a_prompt_claude_code_finds_too_long_is_400_context_length_exceeded(gateway, fake, path):
    response = post(gateway, path, door(path, "word " * (1024 * 1024)))  # 5 MB: under the body limit
    assert response.status_code == 400, response.text
    code, message = error_of(response, path)
    assert code == ("invalid_request_error" if path == "/v1/messages" else "context_length_exceeded")
    assert "Prompt is too long" in message
    assert fake.requests == []  # Claude Code refused it before any call


@pytest.mark.parametrize("path", DOORS)
def test_a_prompt_anthropic_finds_too_long_is_400_context_length_exceeded(gateway, fake, path):
    fake.context_tokens = 500
    response = post(gateway, path, door(path, "word " * 2000))
    assert response.status_code == 400, response.text
    code, message = error_of(response, path)
    assert code == ("invalid_request_error" if path == "/v1/messages" else "context_length_exceeded")
    assert "too long" in message
    assert fake.requests  # this time Anthropic said so
