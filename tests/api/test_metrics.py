"""GET /metrics through the app, on the real engine with the fake CLI: the counters match the
requests sent (answered, refused, failed) and the usage ledger; only the admin key or the metrics
token reads them; label values stay bounded (no key label unless asked, no client-made model name)."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}
TOKEN = {"Authorization": "Bearer metrics-secret"}
MESSAGE = {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def scrape(client, headers=ADMIN) -> dict[str, list]:
    """The samples of /metrics by name: [(labels, value)]."""
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples, name: str, **labels) -> float:
    """The sum of `name`'s samples that have these labels (0 if none)."""
    return sum(v for found, v in samples.get(name, []) if all(found.get(k) == w for k, w in labels.items()))


async def test_counters_match_the_requests_sent_and_the_ledger(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    key = bearer((await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()["key"])
    assert (await client.post("/v1/chat/completions", json=ask("one"), headers=key)).status_code == 200
    streamed = await client.post("/v1/chat/completions", json=ask("two", stream=True), headers=key)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    assert (await client.post("/v1/messages", json=MESSAGE, headers=key)).status_code == 200
    unknown = await client.post("/v1/chat/completions", json=ask("x", model="gpt-nonexistent"), headers=key)
    assert unknown.status_code == 404
    assert (await client.post("/v1/chat/completions", json={"messages": []}, headers=key)).status_code == 400
    failed = await client.post("/v1/chat/completions", json=ask("[[crash]]"), headers=key)
    assert failed.status_code >= 500
    code = failed.json()["error"]["code"]

    samples = await scrape(client)
    requests = "claude_gateway_requests_total"
    assert value(samples, requests, door="chat", status="2xx", model="sonnet") == 2
    assert value(samples, requests, door="messages", status="2xx", model="sonnet") == 1
    assert value(samples, requests, door="chat", status="4xx", model="none") == 2  # no turn ran
    assert value(samples, requests, door="chat", status="5xx", model="sonnet") == 1
    assert value(samples, requests, door="admin", status="2xx") == 1
    assert value(samples, "claude_gateway_turns_total", outcome="ok") == 3
    assert value(samples, "claude_gateway_turns_total", door="chat", outcome="error") == 1
    assert samples["claude_gateway_turn_errors_total"] == [({"door": "chat", "kind": code}, 1)]
    assert value(samples, "claude_gateway_turn_duration_seconds_count") == 4
    assert value(samples, "claude_gateway_time_to_first_token_seconds_count", door="chat") == 2
    assert value(samples, "claude_gateway_time_to_first_token_seconds_count", door="messages") == 1

    ledger = (await client.get("/admin/usage", headers=ADMIN)).json()
    totals = ledger.get("total") or ledger
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        assert value(samples, f"claude_gateway_{name}_total") == totals[name], name
    assert value(samples, "claude_gateway_output_tokens_total") > 0
    assert abs(value(samples, "claude_gateway_cost_usd_total") - totals["cost_usd"]) < 1e-9
    # Processes and sessions, read at scrape time.
    assert value(samples, "claude_gateway_processes_spawned_total") >= 3
    assert value(samples, "claude_gateway_processes_live") >= 1
    assert value(samples, "claude_gateway_sessions") == 3  # the three answered conversations
    for gauge in ("processes_spare", "processes_held", "processes_exiting", "processes_max", "pool_waits_total"):
        assert f"claude_gateway_{gauge}" in samples
    assert value(samples, "claude_gateway_process_spawn_seconds_count") >= 3
    assert value(samples, "claude_gateway_busy_answers_total") == 0


async def test_a_full_pool_is_counted_as_a_wait_and_a_gateway_busy_answer(gateway):
    client, engine, _ = await gateway(max_processes=1, spare_processes=0, busy_wait=0.5)
    await engine._warm_up  # the model probe's process, gone before the turns below
    slow = asyncio.create_task(client.post("/v1/chat/completions", json=ask("[[slow]] " + "long " * 40)))
    for _ in range(500):  # until the slow turn holds the only process
        stats = engine.pool.stats()
        if stats["live"] == 1 and stats["parked"] == 0 and stats["exiting"] == 0:
            break
        await asyncio.sleep(0.02)
    busy = await client.post("/v1/chat/completions", json=ask("me too"))
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "gateway_busy"
    assert (await slow).status_code == 200

    samples = await scrape(client, {})
    assert value(samples, "claude_gateway_pool_waits_total") == 1
    assert value(samples, "claude_gateway_busy_answers_total") == 1
    assert samples["claude_gateway_turn_errors_total"] == [({"door": "chat", "kind": "gateway_busy"}, 1)]
    assert value(samples, "claude_gateway_requests_total", door="chat", status="4xx", model="sonnet") == 1


async def test_only_the_admin_key_or_the_metrics_token_reads_metrics(gateway):
    client, _, _ = await gateway(
        admin_key="admin-secret-0123456789abcdef-0123456789", metrics_token="metrics-secret", api_keys="static-key"
    )
    await scrape(client, ADMIN)
    await scrape(client, TOKEN)
    for headers in ({}, bearer("static-key"), bearer("wrong"), {"x-api-key": "static-key"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["code"] == "invalid_api_key"  # OpenAI's envelope

    client, _, _ = await gateway(api_keys="static-key")  # keyed, with neither: off
    refused = await client.get("/metrics", headers=bearer("static-key"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "metrics_disabled"


async def test_a_keyless_gateway_serves_metrics_to_this_machine_unless_a_token_is_set(gateway):
    client, _, _ = await gateway()
    await scrape(client, {})
    far = await client.get("/metrics", headers={"Host": "gateway.example.com"})
    assert far.status_code == 403 and far.json()["error"]["code"] == "keyless_gateway"

    client, _, _ = await gateway(metrics_token="metrics-secret")
    assert (await client.get("/metrics")).status_code == 401
    await scrape(client, TOKEN)


async def test_the_key_label_is_there_only_when_turned_on(gateway):
    for on in (False, True):
        client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", metrics_key_label=on)
        key = bearer((await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()["key"])
        assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=key)).status_code == 200
        samples = await scrape(client)
        keyed = [labels for name, found in samples.items() for labels, _ in found if "key" in labels]
        if on:
            assert value(samples, "claude_gateway_requests_total", door="chat", key="ann") == 1
            assert value(samples, "claude_gateway_output_tokens_total", key="ann") > 0
            assert value(samples, "claude_gateway_turns_total", key="ann") == 1
        else:
            assert keyed == []


async def test_a_model_name_the_client_made_up_never_becomes_a_label(gateway):
    client, _, _ = await gateway()
    made_up = "claude-made-up-model-7f3a"  # any claude- id is let through to the CLI
    response = await client.post("/v1/chat/completions", json=ask("hi", model=made_up))
    assert response.status_code == 200
    samples = await scrape(client, {})
    models = {labels.get("model") for found in samples.values() for labels, _ in found} - {None}
    assert made_up not in models and "other" in models
    assert value(samples, "claude_gateway_requests_total", door="chat", model="other", status="2xx") == 1


async def test_the_reports_are_their_own_door(gateway):
    """The Admin-API style reports (/v1/organizations) are a route family of their own, not lumped
    with the unknown paths scanners try ("other")."""
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    report = await client.get("/v1/organizations/cost_report?starting_at=2026-03-01T00:00:00Z", headers=ADMIN)
    assert report.status_code == 200
    assert (await client.get("/v1/nothing", headers=ADMIN)).status_code == 404
    samples = await scrape(client)
    assert value(samples, "claude_gateway_requests_total", door="reports", status="2xx") == 1
    assert value(samples, "claude_gateway_requests_total", door="other", status="4xx") == 1


async def test_files_and_batches_are_doors_of_their_own(gateway):
    """/v1/files, /v1/batches and /v1/messages/batches (not "messages": no turn runs there) are route
    families of their own."""
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="static-key")
    key = {"Authorization": "Bearer static-key"}
    assert (await client.get("/v1/files", headers=key)).status_code == 200
    assert (await client.get("/v1/batches", headers=key)).status_code == 200
    assert (await client.get("/v1/messages/batches", headers=key)).status_code == 200
    samples = await scrape(client)
    assert value(samples, "claude_gateway_requests_total", door="files", status="2xx") == 1
    assert value(samples, "claude_gateway_requests_total", door="batches", status="2xx") == 2
    assert value(samples, "claude_gateway_requests_total", door="messages") == 0


async def test_hosted_tool_calls_that_ran_are_counted_by_tool_as_the_ledger_has_them(gateway):
    """Turns with web searches and fetches (as the engine reports them: ToolResults of a hosted tool)
    go through the app's own ledger: /metrics counts the calls that ran by door, model and tool, as
    /admin/usage sums them; a refused call (an error result) is not counted."""
    from app.core.events import ToolResult
    from app.core.turn import Turn
    from app.usage.ledger import Meter

    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", metrics_key_label=True)
    ledger = client._transport.app.state.gateway.sessions.ledger
    searched, fetched = Meter(model="sonnet"), Meter(model="sonnet")
    for event in (
        ToolResult("s1", "WebSearch", "found", hosted="web_search"),
        ToolResult("s2", "WebSearch", "max_uses exceeded", True, hosted="web_search"),
        ToolResult("s3", "WebSearch", "found", hosted="web_search"),
        ToolResult("f1", "WebFetch", "page", hosted="web_fetch"),
    ):
        searched.see(event)
    fetched.see(ToolResult("f2", "WebFetch", "page", hosted="web_fetch"))
    await ledger.record(Turn("sonnet", [], tenant="anonymous"), None, "messages", None, searched, "ok", None, "ann")
    await ledger.record(Turn("sonnet", [], tenant="anonymous"), None, "responses", None, fetched, "ok", None, "bob")
    await ledger.record(Turn("sonnet", [], tenant="anonymous"), None, "chat", None, Meter(), "ok")

    samples = await scrape(client)
    calls = "claude_gateway_hosted_tool_calls_total"
    assert value(samples, calls, door="messages", model="sonnet", tool="web_search", key="ann") == 2
    assert value(samples, calls, door="messages", tool="web_fetch") == 1
    assert value(samples, calls, door="responses", tool="web_fetch", key="bob") == 1
    assert value(samples, calls, door="chat") == 0 and value(samples, calls, tool="mcp") == 0
    usage = (await client.get("/admin/usage", headers=ADMIN)).json()["total"]
    assert (usage["web_search_requests"], usage["web_fetch_requests"], usage["mcp_calls"]) == (2, 2, 0)
    assert value(samples, calls, tool="web_search") == usage["web_search_requests"]
