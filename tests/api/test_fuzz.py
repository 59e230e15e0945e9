"""Property-based fuzzing from the gateway's own OpenAPI document (schemathesis and hypothesis).

Whatever a client sends to the three POST endpoints and the session endpoints, the gateway answers
within a timeout, in the door's own envelope, and never with a 5xx. The gateway runs as a real
server (`python main.py`, uvicorn) with the real engine on our fake `claude` executable, so turns
really run and the response headers are really rendered through uvicorn after them: that is where
an earlier run of 4,320 requests got 332 answers of 500, and where a header with CR/LF makes uvicorn
drop the connection (which an in-process transport would not show).

Valid bodies (positive mode) name a model the gateway serves, and some of them, like the session
endpoints, use one named session, so turns run and the session's listing renders what they left.
Invalid ones (negative mode) check the validation paths. The examples are derandomized, so the
suite stays deterministic; `FUZZ_EXAMPLES=2000 pytest -m fuzz` runs a bigger, random search.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support import FAKE_CLAUDE, GatewayServer

pytestmark = pytest.mark.fuzz

SCALE = int(os.environ.get("FUZZ_EXAMPLES", "0"))
CALL_TIMEOUT = 30  # seconds for one request: more is a hang
SESSION = "fuzz-session"
VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [  # (path, method, generation mode, examples)
    *[
        (path, "POST", mode, 40)
        for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses")
        for mode in (VALID, INVALID)
    ],
    ("/v1/sessions", "GET", VALID, 5),  # no parameters: nothing to get wrong
    # Any string is a valid session id: only valid cases exist.
    ("/v1/sessions/{session_id}", "GET", VALID, 15),
    ("/v1/sessions/{session_id}", "DELETE", VALID, 10),
    # The files API of agent workspaces: any session id and file path, any body.
    ("/v1/sessions/{session_id}/files/{path}", "PUT", VALID, 25),
    ("/v1/sessions/{session_id}/files/{path}", "GET", VALID, 15),
    ("/v1/sessions/{session_id}/files/{path}", "DELETE", VALID, 10),
    ("/v1/sessions/{session_id}/files", "GET", VALID, 10),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    env = {
        "GATEWAY_CLI_PATH": str(FAKE_CLAUDE),
        "CLAUDE_CONFIG_DIR": str(tmp / "claude-config"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the fake is python3
        "GATEWAY_MAX_PROCESSES": "4",
        "GATEWAY_BUSY_WAIT": "2",
        "GATEWAY_SESSION_BUSY_WAIT": "2",
        "GATEWAY_REQUEST_TIMEOUT": "20",
        "GATEWAY_PROCESS_IDLE_TIMEOUT": "5",
        "GATEWAY_AGENT_MODE": "true",  # the files API
    }
    gateway = GatewayServer(env, tmp).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def shaped(case, shape: str, text: str):
    """A valid body names a served model (else nearly every case is a 404 before any turn). As
    generated, few bodies make a conversation Claude can answer (it must end with a user message,
    tool results must answer calls...), so in most cases the conversation is swapped for one user
    message with generated text, keeping every other generated field: those turns run. Some of
    them run in one named session, whose listing the session endpoints then render."""
    if isinstance(case.body, dict):
        case.body["model"] = "sonnet"
        if shape != "as generated" and case.operation.path == "/v1/responses":
            case.body["input"] = text
        elif shape != "as generated":
            case.body["messages"] = [{"role": "user", "content": text}]
        if shape == "turn in session" and case.operation.path != "/v1/responses":
            case.body["session_id"] = SESSION
    if case.path_parameters and shape == "turn in session":
        case.path_parameters["session_id"] = SESSION
    return case


SHAPES = st.sampled_from(["turn", "turn in session", "as generated"])


@pytest.mark.parametrize("path, method, mode, examples", CASES, ids=[f"{m} {p} {g.value}" for p, m, g, _ in CASES])
def test_no_request_gets_a_5xx_or_hangs(server, schema, path, method, mode, examples):
    strategy = schema[path][method].as_strategy(generation_mode=mode)
    if mode == VALID:
        strategy = st.builds(shaped, strategy, SHAPES, st.text(min_size=1))

    @settings(
        max_examples=SCALE or examples,
        deadline=None,
        database=None,
        derandomize=not SCALE,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=strategy)
    def run(case) -> None:
        response = case.call(base_url=server.url, timeout=CALL_TIMEOUT)
        assert response.status_code < 500, f"{response.status_code} {response.text[:500]}\n{case.as_curl_command()}"
        if response.status_code >= 400:
            body = response.json()
            if path.startswith("/v1/messages"):
                assert body["type"] == "error" and {"type", "message"} <= set(body["error"]), body
            else:
                assert {"message", "type", "param", "code"} <= set(body["error"]), body

    run()
    assert httpx.get(f"{server.url}/health", timeout=CALL_TIMEOUT).status_code == 200
