"""OpenAI's Batch API on the real engine with the fake CLI: a purpose=batch file becomes a batch
that runs in the background, its output and error files in OpenAI's JSONL format; a file that is
not a batch input fails the batch with its errors; bad creates are 400 in OpenAI's envelope;
cancel, expiry and paging."""

from __future__ import annotations

import asyncio
import json

import pytest


def line(custom_id: str, text: str, url: str = "/v1/chat/completions", **body) -> str:
    if url == "/v1/responses":
        payload = {"model": "sonnet", "input": text, **body}
    else:
        payload = {"model": "sonnet", "messages": [{"role": "user", "content": text}], **body}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": payload})


async def upload(client, text: str, purpose: str = "batch", tenant: str = "anonymous") -> str:
    files = client._transport.app.state.gateway.files
    record = await files.add(tenant, "input.jsonl", purpose, "application/jsonl", text.encode())
    return record.id


async def content(client, file_id: str) -> list[dict]:
    files = client._transport.app.state.gateway.files
    data = await files.content("anonymous", file_id)
    return [json.loads(row) for row in data.decode().splitlines()]


async def create(client, file_id: str, endpoint: str = "/v1/chat/completions", **extra) -> dict:
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra}
    response = await client.post("/v1/batches", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def until(client, batch_id: str, *statuses: str) -> dict:
    for _ in range(600):
        batch = (await client.get(f"/v1/batches/{batch_id}")).json()
        if batch["status"] in statuses:
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} never reached {statuses}: {batch}")


async def test_a_chat_batch_writes_its_output_and_error_files(gateway):
    client, _, _ = await gateway()
    text = "\n".join([line("a", "alpha"), line("b", "beta", stream=True), "", line("c", "gamma", n=2)])
    made = await create(client, await upload(client, text), metadata={"job": "nightly"})
    assert made["object"] == "batch" and made["status"] == "in_progress" and made["metadata"] == {"job": "nightly"}
    assert made["request_counts"] == {"total": 3, "completed": 0, "failed": 0}

    done = await until(client, made["id"], "completed")
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert done["completed_at"] and done["output_file_id"] and done["error_file_id"]
    output = {row["custom_id"]: row for row in await content(client, done["output_file_id"])}
    assert output["a"]["response"]["status_code"] == 200 and output["a"]["error"] is None
    body = output["a"]["response"]["body"]
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] == "echo: alpha"
    assert [c["message"]["content"] for c in output["c"]["response"]["body"]["choices"]] == ["echo: gamma"] * 2
    (failed,) = await content(client, done["error_file_id"])
    assert failed["custom_id"] == "b" and failed["response"]["status_code"] == 400
    assert failed["response"]["body"]["error"]["param"] == "stream"
    record = await client._transport.app.state.gateway.files.get("anonymous", done["output_file_id"])
    assert record.purpose == "batch_output"


async def test_a_responses_batch_answers_with_response_objects(gateway):
    client, _, _ = await gateway()
    made = await create(client, await upload(client, line("r", "hello", "/v1/responses")), "/v1/responses")
    done = await until(client, made["id"], "completed")
    (row,) = await content(client, done["output_file_id"])
    assert row["response"]["body"]["object"] == "response"
    assert row["response"]["body"]["output"][0]["content"][0]["text"] == "echo: hello"
    assert done["error_file_id"] is None


async def test_a_file_that_is_not_a_batch_input_fails_the_batch_with_its_errors(gateway):
    client, _, _ = await gateway()
    text = "\n".join(
        [
            line("a", "ok"),
            "not json",
            json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {}}),
            line("a", "again"),
            line("d", "x", "/v1/responses"),
        ]
    )
    made = await create(client, await upload(client, text))
    assert made["status"] == "failed" and made["failed_at"] and made["request_counts"]["total"] == 0
    errors = made["errors"]["data"]
    assert [(e["line"], e["code"]) for e in errors] == [
        (2, "invalid_json_line"),
        (3, "missing_required_parameter"),
        (4, "duplicate_custom_id"),
        (5, "mismatched_endpoint"),
    ]
    assert made["output_file_id"] is None and made["error_file_id"] is None


@pytest.mark.parametrize(
    "change, param",
    [
        ({"input_file_id": "file_nope"}, "input_file_id"),
        ({"endpoint": "/v1/embeddings"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"input_file_id": None}, "input_file_id"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
    ],
)
async def test_a_bad_create_is_400_in_openais_envelope(gateway, change, param):
    client, _, _ = await gateway()
    body = {"input_file_id": await upload(client, line("a", "x")), "endpoint": "/v1/chat/completions"}
    body = {**body, "completion_window": "24h", **change}
    response = await client.post("/v1/batches", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert (await client.get("/v1/batches")).json()["data"] == []


async def test_an_input_file_must_have_purpose_batch_and_be_the_callers(gateway):
    client, _, _ = await gateway(api_keys="key-a,key-b")
    other = await upload(client, line("a", "x"), tenant="someone-else")
    user_data = await upload(client, line("a", "x"), purpose="user_data")
    for file_id in (other, user_data):
        body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        response = await client.post("/v1/batches", json=body, headers={"Authorization": "Bearer key-a"})
        assert response.status_code == 400 and response.json()["error"]["param"] == "input_file_id"


async def test_cancel_stops_the_batch_and_lists_the_cancelled_requests_in_the_error_file(gateway):
    client, engine, _ = await gateway()
    made = await create(client, await upload(client, "\n".join(line(str(i), "[[hang]]") for i in range(3))))
    for _ in range(400):
        if any(p.in_turn for p in engine.processes):
            break
        await asyncio.sleep(0.05)
    cancelling = (await client.post(f"/v1/batches/{made['id']}/cancel")).json()
    assert cancelling["status"] in ("cancelling", "cancelled") and cancelling["cancelling_at"]
    done = await until(client, made["id"], "cancelled")
    assert done["cancelled_at"] and done["output_file_id"] is None
    rows = await content(client, done["error_file_id"])
    assert [(r["custom_id"], r["error"]["code"], r["response"]) for r in rows] == [
        (str(i), "batch_cancelled", None) for i in range(3)
    ]
    again = await client.post(f"/v1/batches/{made['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "batch_not_cancellable"
    assert (await client.get("/v1/batches/batch_nope")).status_code == 404


async def test_requests_left_at_the_window_expire_the_batch(gateway):
    client, _, _ = await gateway(batch_completion_window=1.0)
    made = await create(client, await upload(client, "\n".join([line("a", "[[hang]]"), line("b", "x")])))
    done = await until(client, made["id"], "expired")
    assert done["expired_at"] and done["request_counts"]["completed"] == 0
    codes = [r["error"]["code"] for r in await content(client, done["error_file_id"])]
    assert codes == ["batch_expired", "batch_expired"]


async def test_listing_pages_newest_first_with_after(gateway):
    client, _, _ = await gateway()
    file_id = await upload(client, line("a", "x"))
    made = [(await create(client, file_id))["id"] for _ in range(3)][::-1]
    first = (await client.get("/v1/batches", params={"limit": 2})).json()
    assert first["object"] == "list" and [b["id"] for b in first["data"]] == made[:2] and first["has_more"]
    rest = (await client.get("/v1/batches", params={"limit": 2, "after": first["last_id"]})).json()
    assert [b["id"] for b in rest["data"]] == made[2:] and rest["has_more"] is False
    assert (await client.get("/v1/batches", params={"limit": "0"})).json()["error"]["param"] == "limit"
    assert (await client.get("/v1/messages/batches")).json()["data"] == []  # the other API's list


async def test_a_crash_between_its_files_and_its_end_writes_no_second_output_file(gateway):
    # The batch's end is written after its files: a gateway that stops in between (here: the end's
    # write fails once) ends the batch again on its next round, and must find the files it wrote.
    client, _, _ = await gateway()
    runner = client._transport.app.state.gateway.batches
    update, failed = runner.store.update, []

    async def crashing(batch, fields=None):
        if fields and "ended_at" in fields and not failed:
            failed.append(batch.id)
            raise RuntimeError("the gateway stopped here")
        await update(batch, fields)

    runner.store.update = crashing
    made = await create(client, await upload(client, "\n".join([line("a", "alpha"), line("b", "beta", stream=True)])))
    done = await until(client, made["id"], "completed")
    assert failed == [made["id"]]
    files = client._transport.app.state.gateway.files
    written = await files.list("anonymous", purpose="batch_output")
    assert sorted(f.id for f in written) == sorted([done["output_file_id"], done["error_file_id"]])
