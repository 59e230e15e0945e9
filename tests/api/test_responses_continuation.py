"""previous_response_id, in-process with the scripted engine: which conversation a response
continues, with what content, and on which session (the live one, or a branch of its own)."""

from __future__ import annotations

import base64

import pytest

from tests.support import make_client

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")).decode()
PICTURE = {
    "role": "user",
    "content": [
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
        {"type": "input_text", "text": "what is this?"},
    ],
}


async def create(client, **body):
    response = await client.post("/v1/responses", json={"model": "sonnet", **body})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def image_data(turn) -> list[str]:
    return [b["source"]["data"] for m in turn.messages for b in m.content if b["type"] == "image"]


async def test_an_image_goes_on_whole_and_the_continuation_is_the_live_conversation():
    client, engine = make_client()
    async with client:
        first = await create(client, input=[PICTURE])
        second = await create(client, input="and now?", previous_response_id=first)
        await create(client, input="and then?", previous_response_id=second)
        await create(client, input="or else?", previous_response_id=first)  # a branch from the first
    opened, continued, again, branch = engine.turns
    assert image_data(continued) == image_data(again) == image_data(branch) == [PNG]
    assert opened.conversation_id == continued.conversation_id == again.conversation_id  # the live one
    assert branch.conversation_id != opened.conversation_id  # the first has moved on: a branch of its own
    assert [m.role for m in branch.messages] == ["user", "assistant", "user"]


@pytest.mark.parametrize("store", [True, False])
async def test_only_a_stored_response_can_be_continued(store):
    client, engine = make_client()
    async with client:
        first = await create(client, input="hi", store=store)
        response = await client.post(
            "/v1/responses", json={"model": "sonnet", "input": "more", "previous_response_id": first}
        )
    assert response.status_code == (200 if store else 404)
    if not store:
        assert response.json()["error"]["param"] == "previous_response_id"


async def test_a_stored_response_holds_no_copy_of_its_conversation():
    client, _ = make_client(max_stored_response_bytes=50_000, max_body_bytes=1_000_000)
    long_history = [
        {"role": "user", "content": "x" * 100_000},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "short"},
    ]
    async with client:
        first = await create(client, input=long_history)
        assert (await client.get(f"/v1/responses/{first}")).status_code == 200  # its conversation is the session's
        await create(client, input="more", previous_response_id=first)


async def test_a_deleted_session_takes_its_responses_conversation_with_it():
    client, engine = make_client()
    async with client:
        response = await client.post("/v1/responses", json={"model": "sonnet", "input": "a secret"})
        first, session = response.json()["id"], response.headers["x-session-id"]
        assert (await client.delete(f"/v1/sessions/{session}")).status_code == 200
        again = await client.post(
            "/v1/responses", json={"model": "sonnet", "input": "more", "previous_response_id": first}
        )
        assert (await client.get(f"/v1/responses/{first}")).status_code == 200  # the response itself stays
    assert again.status_code == 404
    assert again.json()["error"]["param"] == "previous_response_id"
    assert len(engine.turns) == 1  # the secret went nowhere again
