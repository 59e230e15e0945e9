"""GATEWAY_ALLOWED_ORIGINS: by default keyless mode takes a page on any loopback origin (another
local port included); with the setting, a request or WebSocket handshake carrying any Origin but a
listed one (or the gateway's own) gets 403 origin_not_allowed, keyless or keyed. Requests without
an Origin (programs) are not affected, and a bad entry stops the start naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient, WebSocketDenialResponse

from app.core.settings import Settings
from app.http.app import create_app
from tests.api.conftest import make_settings
from tests.support import ask, make_client

KEY = "k-allowed-origins"
LOCAL_PAGE = {"Origin": "http://localhost:3000"}
LISTED = "https://chat.example.com"


async def test_keyless_mode_takes_a_page_on_another_local_port_unless_origins_are_listed():
    open_gateway, _ = make_client()
    closed, _ = make_client(allowed_origins=f"{LISTED}, http://localhost:5173")
    async with open_gateway, closed:
        assert (await open_gateway.post("/v1/chat/completions", json=ask("hi"), headers=LOCAL_PAGE)).status_code == 200
        refused = await closed.post("/v1/chat/completions", json=ask("hi"), headers=LOCAL_PAGE)
        listed = await closed.post("/v1/chat/completions", json=ask("hi"), headers={"Origin": "http://localhost:5173"})
        own = await closed.post("/v1/chat/completions", json=ask("hi"), headers={"Origin": "http://localhost"})
        program = await closed.post("/v1/chat/completions", json=ask("hi"))
        # Keyless mode still wants a loopback page: a listed remote origin does not open it.
        remote = await closed.post("/v1/chat/completions", json=ask("hi"), headers={"Origin": LISTED})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
    assert "GATEWAY_ALLOWED_ORIGINS" in refused.json()["error"]["message"]
    assert (listed.status_code, own.status_code, program.status_code) == (200, 200, 200)
    assert remote.status_code == 403 and remote.json()["error"]["code"] == "keyless_gateway"


async def test_a_keyed_gateway_refuses_unlisted_pages_in_the_doors_envelope():
    client, _ = make_client(api_keys=KEY, allowed_origins=LISTED)
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "sonnet", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with client:
        listed = await client.post("/v1/messages", json=body, headers=auth | {"Origin": LISTED})
        refused = await client.post("/v1/messages", json=body, headers=auth | {"Origin": "https://evil.example"})
        near = await client.post("/v1/messages", json=body, headers=auth | {"Origin": LISTED + ":8443"})
    assert listed.status_code == 200, listed.text
    for answer in (refused, near):
        assert answer.status_code == 403
        assert answer.json()["type"] == "error" and answer.json()["error"]["type"] == "permission_error"


def test_a_socket_from_an_unlisted_page_is_refused(tmp_path, config_dir):
    settings = make_settings(tmp_path, allowed_origins="http://localhost:8000")
    with TestClient(create_app(settings)) as app:
        with pytest.raises(WebSocketDenialResponse) as refused:
            with app.websocket_connect("ws://localhost/v1/chat/ws", headers=LOCAL_PAGE):
                pass
        assert refused.value.status_code == 403
        assert refused.value.json()["error"]["code"] == "origin_not_allowed"
        with app.websocket_connect("ws://localhost/v1/chat/ws", headers={"Origin": "http://localhost:8000"}):
            pass


@pytest.mark.parametrize(
    "value", ["localhost:3000", "http://a.example/path", "ftp://a.example", "http://user@a.example", "null"]
)
def test_a_bad_origin_stops_the_start_naming_the_variable(value):
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, allowed_origins=f"{LISTED},{value}")
    assert "GATEWAY_ALLOWED_ORIGINS" in str(raised.value)


def test_listed_origins_are_compared_as_browsers_send_them():
    settings = Settings(_env_file=None, allowed_origins=" HTTPS://Chat.Example.com/ ,http://localhost:3000")
    assert settings.allowed_origin_set == {"https://chat.example.com", "http://localhost:3000"}
