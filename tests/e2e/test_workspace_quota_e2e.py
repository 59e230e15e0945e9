"""The workspace quota on the real CLI, its Bash in bubblewrap: a command that writes past the key's
quota (1 MB here) ends the turn with 413 workspace_quota_exceeded before the next command runs;
the file stays for the client to fetch or delete, and the key's agent turns are refused until it
is deleted. Streaming, the same turn ends with an error event."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.e2e.test_agent_e2e import chat, tool

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EDITS = {"permission_mode": "acceptEdits"}


@pytest.fixture(scope="module")
def quota_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "quota", agent_mode="true", workspace_quota_mb="1")


def listed(gateway, session: str) -> list[str]:
    response = httpx.get(f"{gateway.url}/v1/sessions/{session}/files", headers=AUTH)
    assert response.status_code == 200, response.text
    return [file["path"] for file in response.json()["data"]]


def writes(size: str, then: str) -> str:
    first = tool("Bash", command=f"head -c {size} /dev/zero > big.bin", description="write")
    return f"{first}\n{tool('Bash', command=f'touch {then}', description='after')}"


def test_bash_writing_past_the_quota_ends_the_turn_until_the_file_is_deleted(quota_gateway, fake):
    over = chat(quota_gateway, writes("3M", "after.txt"), EDITS, session="q1")
    assert over.status_code == 413, over.text
    assert over.json()["error"]["code"] == "workspace_quota_exceeded", over.text
    assert listed(quota_gateway, "q1") == ["big.bin"]  # the next command never ran

    refused = chat(quota_gateway, "hello", EDITS, session="q2")
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "workspace_quota_exceeded"

    deleted = httpx.delete(f"{quota_gateway.url}/v1/sessions/q1/files/big.bin", headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    fine = chat(quota_gateway, writes("100K", "after.txt"), EDITS, session="q1")
    assert fine.status_code == 200, fine.text
    assert sorted(listed(quota_gateway, "q1")) == ["after.txt", "big.bin"]
    assert httpx.delete(f"{quota_gateway.url}/v1/sessions/q1", headers=AUTH).status_code == 200


def test_a_streamed_turn_past_the_quota_ends_with_an_error_event(quota_gateway, fake):
    streamed = chat(quota_gateway, writes("2M", "after.txt"), EDITS, session="q3", stream=True)
    assert streamed.status_code == 200
    payloads = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    assert payloads[-1].get("error", {}).get("code") == "workspace_quota_exceeded", payloads[-3:]
    assert listed(quota_gateway, "q3") == ["big.bin"]
    assert httpx.delete(f"{quota_gateway.url}/v1/sessions/q3", headers=AUTH).status_code == 200
