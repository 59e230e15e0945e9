"""The usage ledger on the real engine with the fake CLI: every turn (streamed or not, each of n
answers, every door) is recorded with Claude Code's own tokens and cost, the totals are what the
clients were told, each caller sees only its own, and a restart keeps it all."""

from __future__ import annotations

import json

from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sse_usage(text: str) -> dict:
    """The last `usage` an SSE stream carried."""
    found = {}
    for line in text.splitlines():
        if line.startswith("data: {"):
            data = json.loads(line[6:])
            for holder in (data, data.get("message") or {}, data.get("response") or {}):
                if isinstance(holder, dict) and holder.get("usage"):
                    found = {**found, **holder["usage"]}
    return found


async def test_usage_totals_equal_what_the_clients_were_told(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    created = await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)
    key = created.json()["key"]
    told_in = told_out = 0

    plain = (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(key))).json()["usage"]
    told_in, told_out = told_in + plain["prompt_tokens"], told_out + plain["completion_tokens"]
    body = ask("hi", stream=True, stream_options={"include_usage": True})
    streamed = sse_usage((await client.post("/v1/chat/completions", json=body, headers=bearer(key))).text)
    told_in, told_out = told_in + streamed["prompt_tokens"], told_out + streamed["completion_tokens"]
    two = (await client.post("/v1/chat/completions", json=ask("hi", n=2), headers=bearer(key))).json()["usage"]
    told_in, told_out = told_in + two["prompt_tokens"], told_out + two["completion_tokens"]
    message = {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    anth = sse_usage((await client.post("/v1/messages", json=message, headers=bearer(key))).text)
    told_in += anth["input_tokens"] + anth["cache_read_input_tokens"] + anth["cache_creation_input_tokens"]
    told_out += anth["output_tokens"]
    resp = (await client.post("/v1/responses", json={"model": "sonnet", "input": "hi"}, headers=bearer(key))).json()
    told_in, told_out = told_in + resp["usage"]["input_tokens"], told_out + resp["usage"]["output_tokens"]

    mine = (await client.get("/v1/usage", headers=bearer(key))).json()
    total = mine["total"]
    assert total["requests"] == 6  # n=2 is two turns
    prompt = total["input_tokens"] + total["cache_read_input_tokens"] + total["cache_creation_input_tokens"]
    assert (prompt, total["output_tokens"]) == (told_in, told_out)
    assert total["cost_usd"] > 0  # Claude Code's own total_cost_usd
    assert [group["model"] for group in mine["by_model"]] == ["claude-sonnet-5-5"]
    assert len(mine["by_day"]) == 1 and mine["by_day"][0]["requests"] == 6

    everyone = (await client.get("/admin/usage?group_by=key", headers=ADMIN)).json()
    assert [group["key"] for group in everyone["by_key"]] == [created.json()["id"]]
    assert everyone["total"]["cost_usd"] == total["cost_usd"]


async def test_each_caller_sees_only_its_own_usage_and_a_restart_keeps_it(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key")
    ann = (await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer(ann["key"]))).status_code == 200
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer("static-key"))).status_code == 200
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=bearer("static-key"))).status_code == 200

    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key"
    )  # same data folder
    assert (await client.get("/v1/usage", headers=bearer(ann["key"]))).json()["total"]["requests"] == 1
    assert (await client.get("/v1/usage", headers=bearer("static-key"))).json()["total"]["requests"] == 2
    one = (await client.get(f"/admin/usage?key_id={ann['id']}&group_by=model", headers=ADMIN)).json()
    assert one["total"]["requests"] == 1
    everyone = (await client.get("/admin/usage?group_by=key", headers=ADMIN)).json()
    assert sorted(group["requests"] for group in everyone["by_key"]) == [1, 2]


async def test_bad_usage_queries_get_a_400(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    for path, headers in [
        ("/admin/usage?group_by=week", ADMIN),
        ("/admin/usage?start=yesterday", ADMIN),
        ("/admin/usage?start=2025-02-01&end=2025-01-01", ADMIN),
    ]:
        response = await client.get(path, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["type"] == "invalid_request_error"
    window = (await client.get("/admin/usage?start=2025-01-01&end=2025-01-31", headers=ADMIN)).json()
    assert window["end"] - window["start"] == 31 * 86400 and window["total"]["requests"] == 0
