"""A bad `claude_code` object is a 400, and one that asks for more than the key allows a 403, in
each door's own envelope (OpenAI on chat completions and responses, Anthropic on messages).
In-process, with the scripted engine: every case here fails before a turn would start."""

from __future__ import annotations

import pytest

from tests.support import make_client

DOORS = {
    "/v1/chat/completions": {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/messages": {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": {"model": "sonnet", "input": "hi"},
}


async def post(path: str, claude_code, **settings):
    client, engine = make_client(**settings)
    async with client:
        response = await client.post(path, json={**DOORS[path], "claude_code": claude_code})
    assert engine.turns == []
    return response


def error_of(path: str, response, status: int) -> dict:
    """The error, checked to be in the door's envelope: OpenAI's names the field in `param`,
    Anthropic's (no such member) in the message."""
    assert response.status_code == status, response.text
    body = response.json()
    if path == "/v1/messages":
        assert set(body) == {"type", "error"} and body["type"] == "error", body
        assert set(body["error"]) == {"type", "message"}, body
        return body["error"]
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


@pytest.mark.parametrize("path", DOORS)
@pytest.mark.parametrize(
    "claude_code, field",
    [
        ({"unknown_field": True}, "unknown_field"),
        ({"max_turns": "many"}, "max_turns"),
        ({"tools": "Bash"}, "tools"),
        ({"permission_mode": "yolo"}, "permission_mode"),
        ({"mcp_servers": [{"name": "r", "type": "http", "url": "file:///etc/passwd"}]}, "mcp_servers"),
        ({"agents": {"reviewer": {"prompt": "no description"}}}, "agents"),
        ("agent please", None),
    ],
)
async def test_a_bad_claude_code_is_a_400_in_the_doors_envelope(path, claude_code, field):
    error = error_of(path, await post(path, claude_code, agent_mode=True), 400)
    if path == "/v1/messages":
        assert error["type"] == "invalid_request_error" and "claude_code" in error["message"], error
    else:
        assert error["type"] == "invalid_request_error", error
        assert error["param"].startswith("claude_code" + (f".{field}" if field else "")), error


@pytest.mark.parametrize("path", DOORS)
async def test_a_cap_is_a_403_in_the_doors_envelope(path):
    error = error_of(path, await post(path, {"permission_mode": "bypassPermissions"}, agent_mode=True), 403)
    assert error["type"] == "permission_error" and "claude_code.permission_mode" in error["message"], error
    if path != "/v1/messages":
        assert (error["param"], error["code"]) == ("claude_code.permission_mode", "agent_policy_denied")


@pytest.mark.parametrize("path", DOORS)
async def test_agent_mode_off_is_a_403_in_the_doors_envelope(path):
    error = error_of(path, await post(path, {"tools": ["Read"]}), 403)
    assert error["type"] == "permission_error" and "agent_mode" in error["message"], error
    if path != "/v1/messages":
        assert (error["param"], error["code"]) == ("claude_code", "agent_mode_not_allowed")


SONNET_ONLY = {"models": ["sonnet"], "agent_mode": True}
REVIEWER = {"description": "Reviews.", "prompt": "You review."}


@pytest.mark.parametrize("path", DOORS)
@pytest.mark.parametrize(
    "claude_code, field",
    [
        ({"agents": {"x": {**REVIEWER, "model": "opus"}}}, "claude_code.agents.x.model"),
        (
            {"agents": {"ok": {**REVIEWER, "model": "sonnet"}, "x": {**REVIEWER, "model": "opus"}}},
            "claude_code.agents.x.model",
        ),
        ({"agents": {"x": {**REVIEWER, "model": "gpt-5"}}}, "claude_code.agents.x.model"),
        ({"fallback_model": "opus"}, "claude_code.fallback_model"),
    ],
)
async def test_every_model_a_request_names_is_held_to_the_keys_list(tmp_path, path, claude_code, field):
    """Before: a key limited to ["sonnet"] had `claude_code.agents.x.model: "opus"` reach the
    upstream as Opus (only the request's own model and its fallback were checked)."""
    client, engine = make_client(admin_key="admin-secret-0123456789abcdef-0123456789", data_dir=str(tmp_path))
    async with client:
        made = await client.post(
            "/admin/keys",
            json={"name": "k", **SONNET_ONLY},
            headers={"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"},
        )
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        response = await client.post(path, json={**DOORS[path], "claude_code": claude_code}, headers=key)
        error = error_of(path, response, 403)
        assert field in error["message"] and "models list" in error["message"], error
        if path != "/v1/messages":
            assert (error["param"], error["code"]) == (field, "agent_policy_denied"), error
        assert engine.turns == []
        # A subagent of an allowed model, or one that inherits the request's, is fine.
        fine = {"agents": {"x": {**REVIEWER, "model": "sonnet"}, "y": {**REVIEWER, "model": "inherit"}}}
        response = await client.post(path, json={**DOORS[path], "claude_code": fine}, headers=key)
        assert response.status_code == 200, response.text
        assert engine.turns[0].agent.subagent_models == ("sonnet",)


@pytest.mark.parametrize("path", DOORS)
async def test_an_added_folder_that_is_or_passes_through_a_link_is_a_400(tmp_path, path):
    """Before: add_dirs were checked as text, then resolved: `ln -s /etc etclink` in one turn and
    `add_dirs: ["etclink"]` in the next made /etc an allowed root of the file tools."""
    client, engine = make_client(agent_mode=True, api_keys="k", data_dir=str(tmp_path / "data"))
    headers = {"Authorization": "Bearer k", "X-Session-Id": "s1"}
    async with client:
        first = await client.post(path, json={**DOORS[path], "claude_code": {}}, headers=headers)
        assert first.status_code == 200, first.text
        body = {**DOORS[path]} | ({"previous_response_id": first.json()["id"]} if path == "/v1/responses" else {})
        root = client._transport.app.state.gateway.workspaces.root
        workspace = next(p for tenant in root.iterdir() for p in tenant.iterdir())
        (workspace / "etclink").symlink_to("/etc")  # as Claude's Bash could
        (workspace / "real" / "deeper").mkdir(parents=True)
        (workspace / "real" / "inner").symlink_to(workspace / "real" / "deeper")  # even one inside
        (workspace / "file.txt").write_text("x")
        for folder in ("etclink", "etclink/ssl", "real/inner", "real/inner/x", "file.txt"):
            response = await client.post(path, json={**body, "claude_code": {"add_dirs": [folder]}}, headers=headers)
            error = error_of(path, response, 400)
            assert "claude_code.add_dirs" in error["message"], error
            if path != "/v1/messages":
                assert (error["param"], error["code"]) == ("claude_code.add_dirs", "invalid_path"), error
        assert len(engine.turns) == 1
        for fine in (["real"], ["real/deeper"], ["not/made/yet"]):
            response = await client.post(path, json={**body, "claude_code": {"add_dirs": fine}}, headers=headers)
            assert response.status_code == 200, response.text


async def test_n_above_one_in_agent_mode_is_a_400_naming_n():
    """Each of n answers would run as a one-off turn in a folder of its own, outside the key's
    workspace quota (and its checks after each tool call): agent mode asks for one answer."""
    client, engine = make_client(agent_mode=True)
    async with client:
        body = {**DOORS["/v1/chat/completions"], "n": 2, "claude_code": {"max_turns": 2}}
        response = await client.post("/v1/chat/completions", json=body)
    assert engine.turns == []
    error = error_of("/v1/chat/completions", response, 400)
    assert error["param"] == "n" and "agent mode" in error["message"]


RESERVED_TOOL = {
    "/v1/chat/completions": {"type": "function", "function": {"name": "claude_code_permission", "parameters": {}}},
    "/v1/messages": {"name": "claude_code_permission", "input_schema": {"type": "object"}},
    "/v1/responses": {"type": "function", "name": "claude_code_permission", "parameters": {}},
}


@pytest.mark.parametrize("path", DOORS)
async def test_a_function_named_as_the_permission_prompt_is_a_400_once_prompts_are_on(path):
    client, engine = make_client(agent_mode=True)
    body = {**DOORS[path], "tools": [RESERVED_TOOL[path]]}
    async with client:
        response = await client.post(path, json={**body, "claude_code": {"permission_prompts": True}})
        assert engine.turns == []
        error = error_of(path, response, 400)
        assert "reserved for permission prompts" in error["message"], error
        if path != "/v1/messages":
            assert error["param"] == "tools", error
        fine = await client.post(path, json={**body, "claude_code": {}})  # without prompts: a function like any
    assert fine.status_code == 200, fine.text
