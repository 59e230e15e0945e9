"""Stored Responses outlive a restart (the store keeps each response with the messages it added):
they can be read, and continued, by a new gateway on the same data folder; a session deleted
before the restart still takes its responses' conversation with it."""

from __future__ import annotations


async def respond(client, **body) -> dict:
    response = await client.post("/v1/responses", json={"model": "sonnet", **body})
    assert response.status_code == 200, response.text
    return response.json() | {"session": response.headers["x-session-id"]}


async def restart(gateway, client):
    """A new gateway on the same data folder, once the old one has flushed (as its shutdown does)."""
    await client._transport.app.state.gateway.responses.flush()
    return (await gateway())[0]


def text_of(response: dict) -> str:
    return "".join(part["text"] for item in response["output"] for part in item.get("content", []))


async def test_a_response_is_read_and_continued_after_a_restart(gateway):
    client, _, _ = await gateway()
    first = await respond(client, input="I am Ann.")
    second = await respond(client, input="I like tea.", previous_response_id=first["id"])
    stored = (await client.get(f"/v1/responses/{second['id']}")).json()

    client = await restart(gateway, client)  # no session survived
    assert (await client.get("/v1/sessions")).json()["data"] == []
    assert (await client.get(f"/v1/responses/{second['id']}")).json() == stored
    third = await respond(client, input="[[history]]", previous_response_id=second["id"])
    history = text_of(third)
    assert '["user", "I am Ann."]' in history and '["user", "I like tea."]' in history
    assert history.index("I am Ann.") < history.index("I like tea.")


async def test_a_deleted_session_still_takes_its_conversation_across_a_restart(gateway):
    client, _, _ = await gateway()
    first = await respond(client, input="a secret")
    assert (await client.delete(f"/v1/sessions/{first['session']}")).status_code == 200

    client = await restart(gateway, client)
    assert (await client.get(f"/v1/responses/{first['id']}")).status_code == 200  # the response stays
    again = await client.post(
        "/v1/responses", json={"model": "sonnet", "input": "more", "previous_response_id": first["id"]}
    )
    assert again.status_code == 404 and again.json()["error"]["code"] == "conversation_not_found"


async def test_a_deleted_response_is_gone_after_a_restart_too(gateway):
    client, _, _ = await gateway()
    first = await respond(client, input="hi")
    assert (await client.delete(f"/v1/responses/{first['id']}")).status_code == 200
    client = await restart(gateway, client)
    assert (await client.get(f"/v1/responses/{first['id']}")).status_code == 404
