"""Anthropic Message Batches on the real engine with the fake CLI: created, run in the background,
listed and paged, cancelled, deleted only once ended, results as JSONL, bad batches refused in
Anthropic's envelope, each request in the ledger with door "batch" and against its key's budget."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def params(text: str, **extra) -> dict:
    return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


def batch_of(*texts: str) -> dict:
    return {"requests": [{"custom_id": f"r{i}", "params": params(t)} for i, t in enumerate(texts)]}


async def create(client, body: dict, headers: dict | None = None) -> dict:
    response = await client.post("/v1/messages/batches", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


async def until(client, batch_id: str, status: str = "ended", headers: dict | None = None) -> dict:
    for _ in range(600):
        batch = (await client.get(f"/v1/messages/batches/{batch_id}", headers=headers or {})).json()
        if batch["processing_status"] == status:
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} never reached {status}: {batch}")


async def results(client, batch: dict, headers: dict | None = None) -> dict[str, dict]:
    response = await client.get(batch["results_url"], headers=headers or {})
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    return {line["custom_id"]: line["result"] for line in lines}


async def test_a_batch_runs_in_the_background_and_its_results_are_jsonl(gateway, data_dir):
    client, _, _ = await gateway()
    created = await create(client, batch_of("one", "two", "[[error 400]]"))
    assert created["type"] == "message_batch" and created["id"].startswith("msgbatch_")
    assert created["processing_status"] == "in_progress" and created["results_url"] is None
    assert sum(created["request_counts"].values()) == 3
    assert created["created_at"].endswith("Z") and created["expires_at"] > created["created_at"]

    ended = await until(client, created["id"])
    assert ended["request_counts"] == {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 0}
    assert ended["ended_at"] and ended["results_url"] == f"http://localhost/v1/messages/batches/{created['id']}/results"
    got = await results(client, ended)
    assert got["r0"]["type"] == "succeeded" and got["r0"]["message"]["content"][0]["text"] == "echo: one"
    assert got["r0"]["message"]["type"] == "message" and got["r1"]["message"]["content"][0]["text"] == "echo: two"
    assert got["r2"]["type"] == "errored" and got["r2"]["error"]["type"] == "error"
    assert got["r2"]["error"]["error"]["type"] == "rate_limit_error"  # as /v1/messages answers it

    with sqlite3.connect(data_dir / "gateway.db") as db:
        doors = db.execute("select door, status from usage order by id").fetchall()
    assert doors == [("batch", "ok"), ("batch", "ok"), ("batch", "error")]


@pytest.mark.parametrize(
    "body, param",
    [
        ({"requests": []}, "requests"),
        ({}, "requests"),
        ({"requests": [{"custom_id": "has space", "params": params("x")}]}, "requests[0].custom_id"),
        ({"requests": [{"custom_id": "a" * 65, "params": params("x")}]}, "requests[0].custom_id"),
        (
            {"requests": [{"custom_id": "a", "params": params("x")}, {"custom_id": "a", "params": params("y")}]},
            "requests[1].custom_id",
        ),
        ({"requests": [{"custom_id": "a", "params": {"model": "sonnet"}}]}, "requests[0].params"),
        ({"requests": [{"custom_id": "a", "params": params("x", stream=True)}]}, "requests[0].params.stream"),
        ({"requests": [{"custom_id": "a", "params": params("x", session_id="s")}]}, "requests[0].params.session_id"),
        ({"requests": [{"custom_id": "a", "params": params("x", max_tokens="lots")}]}, "requests[0].params"),
        (  # a tool type the gateway does not serve (dialects/tool_types.py), refused as on /v1/messages
            {
                "requests": [
                    {
                        "custom_id": "a",
                        "params": params("x", tools=[{"type": "code_execution_20250825", "name": "f"}]),
                    }
                ]
            },
            "tools[0].type",
        ),
    ],
)
async def test_a_bad_batch_is_400_in_anthropics_envelope(gateway, body, param):
    client, _, _ = await gateway()
    response = await client.post("/v1/messages/batches", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"] or param == "requests"
    assert (await client.get("/v1/messages/batches")).json()["data"] == []  # nothing was made


async def test_too_many_requests_and_a_credential_header_are_refused(gateway):
    client, _, _ = await gateway(batch_max_requests=2)
    response = await client.post("/v1/messages/batches", json=batch_of("a", "b", "c"))
    assert response.status_code == 400 and "at most 2" in response.json()["error"]["message"]
    response = await client.post(
        "/v1/messages/batches", json=batch_of("a"), headers={"X-Claude-Credential": "api_key:sk-ant-x"}
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


async def test_listing_pages_newest_first_with_before_and_after_ids(gateway):
    client, _, _ = await gateway()
    made = [(await create(client, batch_of("x")))["id"] for _ in range(5)]
    newest_first = made[::-1]
    first = (await client.get("/v1/messages/batches", params={"limit": 2})).json()
    assert [b["id"] for b in first["data"]] == newest_first[:2] and first["has_more"] is True
    assert first["first_id"] == newest_first[0] and first["last_id"] == newest_first[1]
    second = (await client.get("/v1/messages/batches", params={"limit": 2, "after_id": first["last_id"]})).json()
    assert [b["id"] for b in second["data"]] == newest_first[2:4] and second["has_more"] is True
    last = (await client.get("/v1/messages/batches", params={"limit": 2, "after_id": second["last_id"]})).json()
    assert [b["id"] for b in last["data"]] == newest_first[4:] and last["has_more"] is False
    back = (await client.get("/v1/messages/batches", params={"limit": 2, "before_id": second["first_id"]})).json()
    assert [b["id"] for b in back["data"]] == newest_first[:2] and back["has_more"] is False
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"after_id": "msgbatch_nope"}):
        response = await client.get("/v1/messages/batches", params=bad)
        assert response.status_code == 400 and response.json()["type"] == "error"


async def test_another_tenants_batch_is_404(gateway):
    client, _, _ = await gateway(api_keys="key-a,key-b")
    made = await create(client, batch_of("x"), bearer("key-a"))
    for method, path in (
        ("GET", ""),
        ("POST", "/cancel"),
        ("DELETE", ""),
        ("GET", "/results"),
    ):
        response = await client.request(method, f"/v1/messages/batches/{made['id']}{path}", headers=bearer("key-b"))
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "not_found_error"
    assert (await client.get("/v1/messages/batches", headers=bearer("key-b"))).json()["data"] == []
    await until(client, made["id"], headers=bearer("key-a"))


async def test_cancel_stops_the_running_request_and_cancels_the_rest(gateway, config_dir):
    client, engine, _ = await gateway()
    made = await create(client, batch_of("[[hang]]", "later", "later too"))
    for _ in range(400):  # the first request's turn is running
        if engine.processes and any(p.in_turn for p in engine.processes):
            break
        await asyncio.sleep(0.05)
    early = (await client.get(f"/v1/messages/batches/{made['id']}/results")).json()
    assert early["error"]["type"] == "invalid_request_error"  # not ended: no results yet
    refused = await client.delete(f"/v1/messages/batches/{made['id']}")
    assert refused.status_code == 400 and "cancel it first" in refused.json()["error"]["message"]

    cancelling = (await client.post(f"/v1/messages/batches/{made['id']}/cancel")).json()
    assert cancelling["cancel_initiated_at"] is not None
    assert cancelling["processing_status"] in ("canceling", "ended")
    ended = await until(client, made["id"])
    assert ended["request_counts"]["canceled"] == 3 and ended["request_counts"]["processing"] == 0
    got = await results(client, ended)
    assert [r["type"] for r in got.values()] == ["canceled"] * 3
    for _ in range(200):  # the hung turn was interrupted: no process left in a turn
        if not any(p.in_turn for p in engine.processes):
            break
        await asyncio.sleep(0.05)
    assert not any(p.in_turn for p in engine.processes)

    deleted = await client.delete(f"/v1/messages/batches/{made['id']}")
    assert deleted.json() == {"id": made["id"], "type": "message_batch_deleted"}
    assert (await client.get(f"/v1/messages/batches/{made['id']}")).status_code == 404


async def test_requests_not_run_within_the_completion_window_expire(gateway):
    client, _, _ = await gateway(batch_completion_window=1.0)
    made = await create(client, batch_of("[[hang]]", "never reached"))
    ended = await until(client, made["id"])
    assert ended["request_counts"]["expired"] == 2 and ended["cancel_initiated_at"] is None
    assert [r["type"] for r in (await results(client, ended)).values()] == ["expired", "expired"]


async def test_a_request_over_the_keys_budget_is_errored_with_the_budget_error(gateway, data_dir):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await client.post("/admin/keys", json={"name": "small", "token_budget": 10}, headers=ADMIN)
    key = created.json()["key"]
    made = await create(client, batch_of("first", "second"), bearer(key))
    ended = await until(client, made["id"], headers=bearer(key))
    got = await results(client, ended, bearer(key))
    assert got["r0"]["type"] == "succeeded"  # the fake's usage passes the 10 tokens
    assert got["r1"]["type"] == "errored" and got["r1"]["error"]["error"]["type"] == "rate_limit_error"
    assert "budget" in got["r1"]["error"]["error"]["message"] or "tokens" in got["r1"]["error"]["error"]["message"]


async def test_a_revoked_keys_batches_are_stopped_and_forgotten(gateway):
    """Revoking a key deletes its batches (docs/hosting.md: what revoking a key removes): the one running
    is cancelled, no later request of it runs, and no record of it comes back."""
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = (await client.post("/admin/keys", json={"name": "gone"}, headers=ADMIN)).json()
    made = await create(client, batch_of("[[slow]] a b c d e f g h", "b", "c"), bearer(created["key"]))
    runner = client._transport.app.state.gateway.batches
    await client.delete(f"/admin/keys/{created['id']}", headers=ADMIN)
    for _ in range(20):  # the runner's next rounds bring nothing of it back
        assert await runner.store.get(made["id"]) is None
        assert await runner.store.results(made["id"]) == []
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "path, raw",
    [
        ("/v1/messages/batches", b"[]"),
        ("/v1/messages/batches", b'"text"'),
        ("/v1/messages/batches", b"{not json"),
        ("/v1/messages/batches", b'{"requests": "x"}'),
        ("/v1/messages/batches", b'{"requests": [null]}'),
        ("/v1/messages/batches", b'{"requests": [{"custom_id": "a", "params": []}]}'),
        ("/v1/messages/batches", b'{"requests": [{"custom_id": 7, "params": {}}]}'),
        ("/v1/batches", b"[]"),
        ("/v1/batches", b'{"input_file_id": 5, "endpoint": "/v1/chat/completions", "completion_window": "24h"}'),
        ("/v1/batches", b'{"input_file_id": "f", "endpoint": 1, "completion_window": "24h"}'),
        (
            "/v1/batches",
            b'{"input_file_id": "f", "endpoint": "/v1/responses", "completion_window": "24h", "metadata": {"a": 1}}',
        ),
    ],
)
async def test_malformed_bodies_are_400_in_the_doors_envelope(gateway, path, raw):
    client, _, _ = await gateway()
    response = await client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["type"] == "invalid_request_error"


async def test_a_batch_request_takes_the_keys_uploaded_files_by_id(gateway):
    """File ids in a batch's requests resolve as on the door itself, as the batch's key: its own
    file is read when the request runs; an unknown id is found when the batch is checked (a 400
    naming the request, as any bad params)."""
    client, _, _ = await gateway()
    upload = await client.post(
        "/v1/files", files={"file": ("notes.txt", b"plain words")}, data={"purpose": "user_data"}
    )
    assert upload.status_code == 200, upload.text

    def about(file_id: str) -> dict:
        document = {"type": "document", "source": {"type": "file", "file_id": file_id}}
        return params("x") | {"messages": [{"role": "user", "content": [document, {"type": "text", "text": "hi"}]}]}

    unknown = await client.post(
        "/v1/messages/batches",
        json={
            "requests": [
                {"custom_id": "a", "params": about(upload.json()["id"])},
                {"custom_id": "b", "params": about("file_nope")},
            ]
        },
    )
    assert unknown.status_code == 400
    assert "requests[1].params.messages[0].content[0].source.file_id" in unknown.json()["error"]["message"]
    ended = await until(
        client,
        (await create(client, {"requests": [{"custom_id": "mine", "params": about(upload.json()["id"])}]}))["id"],
    )
    found = await results(client, ended)
    assert found["mine"]["type"] == "succeeded", found["mine"]
