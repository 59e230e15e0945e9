"""The files API of agent workspaces over real HTTP (uvicorn): a large upload streamed to disk and
read back streamed, and an upload past the quota refused mid-stream."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import httpx
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.support import ROOT

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def files_gateway(upstream, cli_config_dir, tmp_path_factory):
    yield from serve(upstream, cli_config_dir, tmp_path_factory, "files", agent_mode="true", workspace_quota_mb="8")


def pieces(total: int, seen: hashlib._Hash, size: int = 256 * 1024):
    """`total` random bytes in pieces, sent chunked (no Content-Length); `seen` hashes them."""
    for _ in range(total // size):
        piece = os.urandom(size)
        seen.update(piece)
        yield piece


def test_five_megabytes_streamed_up_and_back(files_gateway):
    sent = hashlib.sha256()
    url = f"{files_gateway.url}/v1/sessions/big/files/data/blob.bin"
    with httpx.Client(headers=HEADERS, timeout=60) as client:
        put = client.put(url, content=pieces(5 * MB, sent))
        assert put.status_code == 201, put.text
        assert put.json()["size"] == 5 * MB

        received, size = hashlib.sha256(), 0
        with client.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(5 * MB)
            for chunk in response.iter_bytes():
                received.update(chunk)
                size += len(chunk)
        assert size == 5 * MB and received.hexdigest() == sent.hexdigest()

        listed = client.get(f"{files_gateway.url}/v1/sessions/big/files").json()
        assert listed["data"] == [
            {
                "object": "session.file",
                "path": "data/blob.bin",
                "size": 5 * MB,
                "modified": listed["data"][0]["modified"],
            }
        ]
        assert client.delete(f"{files_gateway.url}/v1/sessions/big").json()["deleted"] is True


def test_an_upload_past_the_quota_stops_mid_stream_and_leaves_nothing(files_gateway):
    url = f"{files_gateway.url}/v1/sessions/over/files/too-big.bin"
    with httpx.Client(headers=HEADERS, timeout=60) as client:
        try:
            response = client.put(url, content=pieces(12 * MB, hashlib.sha256()))
        except httpx.HTTPError:
            response = None  # the server may close the connection before all of the body is sent
        if response is not None:
            assert response.status_code == 413 and response.json()["error"]["code"] == "workspace_quota_exceeded"
        missing = client.get(f"{files_gateway.url}/v1/sessions/over/files")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "session_not_found"
        # And the gateway goes on serving uploads.
        assert client.put(url.replace("too-big", "small"), content=b"small").status_code == 201


def test_a_workspaces_folder_others_can_write_stops_the_start(tmp_path):
    """As the work folder does (GATEWAY_WORK_DIR): a clear refusal, not a traceback."""
    workspaces = tmp_path / "data" / "workspaces"
    workspaces.mkdir(parents=True)
    workspaces.chmod(0o777)
    env = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_WORK_DIR": str(tmp_path / "work"),
    }
    done = subprocess.run(
        [sys.executable, "main.py", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "Refusing to start: The workspaces folder" in done.stderr and "writable by other users" in done.stderr
    assert "Traceback" not in done.stderr
