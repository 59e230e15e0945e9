"""Batches end to end: the REAL CLI behind a real uvicorn gateway, driven by the official clients.
The anthropic client's messages.batches (create, retrieve until ended, results); the openai
client's files and batches flow, with a cancel; and a gateway killed in the middle of a batch,
started again on the same data folder, losing nothing."""

from __future__ import annotations

import json
import threading
import time

import pytest
from anthropic import Anthropic
from openai import OpenAI

from tests.fakes.upstream import Reply, echo, last_user_text
from tests.support import wait_until

from .conftest import API_KEY, serve


@pytest.fixture(scope="module")
def batch_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "batches", batch_concurrency="2")


def anthropic_client(server) -> Anthropic:
    return Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0, timeout=60)


def request(custom_id: str, text: str) -> dict:
    return {
        "custom_id": custom_id,
        "params": {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": text}]},
    }


def ended(client: Anthropic, batch_id: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not end: {batch}")


def test_the_anthropic_client_creates_a_batch_and_reads_its_results(batch_gateway, fake):
    client = anthropic_client(batch_gateway)
    batch = client.messages.batches.create(requests=[request("a", "alpha"), request("b", "beta")])
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 2
    done = ended(client, batch.id)
    assert done.request_counts.succeeded == 2 and done.results_url.startswith(batch_gateway.url)
    results = {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded" and results["a"].message.content[0].text == "echo: alpha"
    assert results["b"].message.content[0].text == "echo: beta"
    assert batch.id in [b.id for b in client.messages.batches.list(limit=5)]
    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"


def test_a_killed_gateway_resumes_its_batch_and_loses_nothing(upstream, cli_config_dir, tmp_path_factory, fake):
    server = next(serve(upstream, cli_config_dir, tmp_path_factory, "batches-restart"))
    client = anthropic_client(server)
    slow_started = threading.Event()
    first_life = [True]

    def reply(body: dict) -> Reply:
        if "slow" in last_user_text(body) and first_life[0]:
            slow_started.set()
            return Reply(text="too late", delay=60)  # still thinking when the gateway is killed
        return echo(body)

    fake.default = reply
    try:
        batch = client.messages.batches.create(
            requests=[request("one", "first"), request("two", "slow one"), request("three", "third")]
        )
        assert slow_started.wait(60)
        before = client.messages.batches.retrieve(batch.id)
        assert before.request_counts.succeeded == 1 and before.processing_status == "in_progress"
        server.process.kill()  # SIGKILL: no shutdown code runs
        server.process.wait()
        first_life[0] = False

        server.start()  # the same data folder
        done = ended(client, batch.id)
        assert done.request_counts.succeeded == 3
        results = {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}
        texts = {cid: r.message.content[0].text for cid, r in results.items()}
        assert texts == {"one": "echo: first", "two": "echo: slow one", "three": "echo: third"}
        assert sum(1 for body in fake.requests if "first" == last_user_text(body)) == 1  # not run again
    finally:
        server.stop()


def openai_line(custom_id: str, text: str) -> str:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": text}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def test_the_openai_client_runs_a_batch_from_a_file_and_cancels_another(batch_gateway, fake):
    client = OpenAI(base_url=f"{batch_gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    data = "\n".join([openai_line("x", "ex"), openai_line("y", "why")]).encode()
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "in_progress" and batch.request_counts.total == 2
    deadline = time.monotonic() + 90
    while batch.status != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.completed == 2
    lines = [json.loads(row) for row in client.files.content(batch.output_file_id).text.splitlines()]
    answers = {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in lines}
    assert answers == {"x": "echo: ex", "y": "echo: why"}

    fake.default = lambda body: Reply(text="never", delay=60)  # Claude thinks for a minute
    calls = len(fake.requests)
    slow = client.files.create(
        file=("slow.jsonl", "\n".join(openai_line(f"s{i}", "wait") for i in range(3)).encode()), purpose="batch"
    )
    batch = client.batches.create(input_file_id=slow.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert wait_until(lambda: len(fake.requests) > calls, timeout=60)  # a request's turn is under way
    assert client.batches.cancel(batch.id).status in ("cancelling", "cancelled")
    assert wait_until(lambda: client.batches.retrieve(batch.id).status == "cancelled", timeout=30)
    cancelled = client.batches.retrieve(batch.id)
    rows = [json.loads(row) for row in client.files.content(cancelled.error_file_id).text.splitlines()]
    assert {row["error"]["code"] for row in rows} == {"batch_cancelled"} and len(rows) == 3
    assert batch.id in [b.id for b in client.batches.list(limit=10)]
