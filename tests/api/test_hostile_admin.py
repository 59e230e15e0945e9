"""A hostile caller against the admin API, the usage reports, /v1/me, the console's files, the
session and stored-response ids and the X-Claude-Credential header: every bad body, parameter,
id or header value gets a 4xx in the door's own envelope, never a 500 or a dropped connection.
(In process, on the real engine with the fake CLI.)"""

from __future__ import annotations

import json

import pytest

from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}
JSON = {"Content-Type": "application/json"}

BAD_BODIES = [
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b"null",
    b"1",
    b"\xff\xfe\x00 not utf-8",
    b'{"name": 1}',
    b'{"name": "' + b"a" * 10_000 + b'"}',
    b'{"name": "x", "rpm": -1}',
    b'{"name": "x", "rpm": 1.5}',
    b'{"name": "x", "rpm": "' + b"9" * 5000 + b'"}',
    b'{"name": "x", "budget_usd": NaN}',
    b'{"name": "x", "budget_usd": -Infinity}',
    b'{"name": "x", "no_such_field": 1}',
    b'{"name": "x", "models": [1]}',
    b'{"name": "x", "models": "sonnet"}',
    b'{"name": "x", "mcp_servers": {"a": 1}}',
    b'{"name": "x", "budget_period": "week"}',
    b'{"name": "x", "claude_credential": "sk-ant-x"}',
    b'{"name": "x", "claude_credential": {"type": "password", "value": "x"}}',
    b'{"name": "x", "claude_credential": {"type": "api_key", "value": ""}}',
    b'{"name": "\\u0000\\ud800", "rpm": {}}',
]

BAD_IDS = ["gk_nope", "..%2F..%2Fetc%2Fpasswd", "%00", "gk_%0d%0aX-Evil:%201", "%FF%FE", "a" * 5000, "%2e%2e"]

BAD_PERIODS = [
    "start=nan",
    "end=nan",
    "start=inf",
    "end=inf",
    "start=-inf",
    "end=1e308",
    "start=-1e308",
    "end=99999999999999999",
    "start=2026-13-45",
    "start=99999-01-01",
    "start=%00",
    "start=" + "9" * 5000,
    "start=abc",
    "start=2026-02-01&end=2026-01-01",
    "end=0",
]

BAD_LIMITS = ["-1", "0", "201", "abc", "1e3", "%00", "%C2%B2", "9" * 5000, ""]

BAD_CREDENTIALS = [
    b"",
    b"garbage",
    b"api_key",
    b"\xff\xfe",
    b"{}",
    b"[]",
    b"Bearer SECRET" + b"x" * 20_000,
    b"api_key:",
]

DOORS = {
    "/v1/chat/completions": ask("hi"),
    "/v1/messages": {**ask("hi"), "max_tokens": 10},
    "/v1/responses": {"model": "sonnet", "input": "hi"},
}


def assert_client_error(response, status: int | None = None) -> dict:
    """A 4xx (the given one, if any) whose body is the error envelope: OpenAI's, or Anthropic's."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str), error
    return error


@pytest.fixture
async def admin(gateway):
    """(client, a managed key's id, headers for a key that may send its own credential)."""
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", secret_key="secret-0123456789abcdef-0123456789"
    )
    created = await client.post("/admin/keys", json={"name": "hostile", "request_credentials": True}, headers=ADMIN)
    assert created.status_code == 201, created.text
    key = created.json()
    return client, key["id"], {"Authorization": f"Bearer {key['key']}"}


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
async def test_bad_key_bodies_are_400s(admin, body):
    client, key_id, _ = admin
    assert_client_error(await client.post("/admin/keys", content=body, headers={**ADMIN, **JSON}), 400)
    assert_client_error(await client.patch(f"/admin/keys/{key_id}", content=body, headers={**ADMIN, **JSON}), 400)
    # Nothing was created or changed by any of them.
    listed = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
    assert [(k["id"], k["name"]) for k in listed] == [(key_id, "hostile")]


@pytest.mark.parametrize("key_id", BAD_IDS, ids=lambda v: v[:30])
async def test_unknown_or_tricky_ids_are_404s(admin, key_id):
    client, _, caller = admin
    for method in ("GET", "PATCH", "DELETE"):
        body = json.dumps({"rpm": 2}).encode() if method == "PATCH" else None
        response = await client.request(method, f"/admin/keys/{key_id}", content=body, headers={**ADMIN, **JSON})
        assert_client_error(response, 404)
    assert_client_error(await client.delete(f"/v1/sessions/{key_id}", headers=caller), 404)
    assert_client_error(await client.get(f"/v1/responses/{key_id}", headers=caller), 404)
    assert_client_error(await client.delete(f"/v1/responses/{key_id}", headers=caller), 404)
    assert_client_error(await client.get(f"/console/{key_id}"), 404)
    # The one real key is still there.
    assert len((await client.get("/admin/keys", headers=ADMIN)).json()["data"]) == 1


@pytest.mark.parametrize("query", BAD_PERIODS, ids=lambda v: v[:30])
async def test_bad_periods_are_400s_naming_the_parameter(admin, query):
    client, _, caller = admin
    for url, headers in [("/admin/usage", ADMIN), ("/v1/usage", caller), ("/admin/usage", ADMIN)]:
        error = assert_client_error(await client.get(f"{url}?{query}&group_by=day", headers=headers), 400)
        assert error["param"] in ("start", "end"), error


async def test_the_widest_period_is_fine(admin):
    client, _, caller = admin
    for url, headers in [("/admin/usage", ADMIN), ("/v1/usage", caller)]:
        response = await client.get(f"{url}?start=0001-01-01&end=9999-12-31", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["end"] == 253402300800


@pytest.mark.parametrize("group_by", ["week", "", "KEY", "key,model", "%00"])
async def test_unknown_group_by_is_a_400(admin, group_by):
    client, _, _ = admin
    error = assert_client_error(await client.get(f"/admin/usage?group_by={group_by}", headers=ADMIN), 400)
    assert error["param"] == "group_by"


@pytest.mark.parametrize("limit", BAD_LIMITS, ids=lambda v: v[:30])
async def test_bad_error_limits_are_400s(admin, limit):
    client, _, _ = admin
    error = assert_client_error(await client.get(f"/admin/errors?limit={limit}", headers=ADMIN), 400)
    assert error["param"] == "limit"


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("value", BAD_CREDENTIALS, ids=range(len(BAD_CREDENTIALS)))
async def test_bad_credential_headers_are_400s_in_the_doors_envelope(admin, door, value):
    client, _, caller = admin
    response = await client.post(door, json=DOORS[door], headers={**caller, "X-Claude-Credential": value})
    error = assert_client_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert b"SECRET" not in response.content  # never quoted back
    assert (response.json().get("type") == "error") == (door == "/v1/messages")


async def test_a_credential_from_a_key_that_may_not_send_one_is_a_403(admin):
    client, _, _ = admin
    plain = (await client.post("/admin/keys", json={"name": "plain"}, headers=ADMIN)).json()["key"]
    for door, body in DOORS.items():
        headers = {"Authorization": f"Bearer {plain}", "X-Claude-Credential": b"\xff garbage"}
        assert_client_error(await client.post(door, json=body, headers=headers), 403)


async def test_bad_content_length_is_not_a_500(admin):
    """Digits int() refuses ('²' is a digit to str.isdigit) and a number too long for int()."""
    client, key_id, _ = admin
    for declared in [b"\xb2", b"9" * 5000]:
        headers = {**ADMIN, **JSON, "Content-Length": declared}
        response = await client.patch(f"/admin/keys/{key_id}", content=b'{"rpm": 2}', headers=headers)
        assert response.status_code < 500, response.text
