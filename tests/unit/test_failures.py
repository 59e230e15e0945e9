"""Failed turns: the client gets a reason it can act on, never the gateway's paths or addresses."""

from __future__ import annotations

import logging

import pytest
from claude_agent_sdk import CLIConnectionError, CLINotFoundError, ProcessError

from app.engine.reading.failures import FailedTurn, scrub, sdk_exception_error, turn_error

HINT = " This is a server-side issue, usually temporary \u2014 try again in a moment."
GATEWAY = " If it persists, check your inference gateway (127.0.0.1:46009)."
SECRETS = ("127.0.0.1", "46009", "/home/op", "/srv/gw", "gw.internal", "http://", "https://")


@pytest.mark.parametrize(
    "failure, code, quoted",
    [
        (
            FailedTurn(f"API Error: 500 Internal error at /srv/gw/app.py.{HINT}{GATEWAY}", "server_error", 500),
            "upstream_error",
            None,
        ),
        (FailedTurn(f"API Error: 529 Overloaded.{HINT}{GATEWAY}", "server_error", 529), "upstream_overloaded", None),
        (
            FailedTurn(
                "API Error: Request rejected (429) \u00b7 Number of requests exceeded your rate limit",
                "rate_limit",
                429,
            ),
            "rate_limit_exceeded",
            "Number of requests exceeded your rate limit",
        ),
        (
            FailedTurn("Third-party apps now draw from your extra usage, not your plan limits.", None, 400),
            "insufficient_quota",
            "Third-party apps now draw from your extra usage",
        ),
        (
            FailedTurn("API Error: 400 prompt too long; see https://gw.internal:8443/docs", None, 400),
            "upstream_invalid_request",
            "prompt too long",
        ),
        (
            FailedTurn("Failed to authenticate. API Error: 401 invalid x-api-key", "authentication_failed", 401),
            "upstream_auth_failed",
            "invalid x-api-key",
        ),
        (
            FailedTurn("Error: ENOENT reading /home/op/.claude/settings.json", None, None, "error_during_execution"),
            "claude_error",
            None,
        ),
    ],
)
def test_the_client_gets_no_paths_or_addresses(failure, code, quoted, caplog):
    raw = failure.text
    with caplog.at_level(logging.WARNING):
        error = turn_error(failure, 9)
    assert error.code == code
    for secret in SECRETS:
        assert secret not in error.message, error.message
    if quoted:
        assert quoted in error.message  # Anthropic's wording, where the user must act on it
    assert raw in caplog.text  # the operator keeps everything


@pytest.mark.parametrize(
    "text, reason",
    [
        ("API Error: Connection refused \u2014 a firewall or proxy may be blocking it (ECONNREFUSED)", "ECONNREFUSED"),
        ("API Error: Can't reach the API server \u2014 check your internet or DNS (ENOTFOUND)", "ENOTFOUND"),
        ("API Error: Unable to connect to API (ECONNRESET)", "ECONNRESET"),
        ("API Error: Request timed out.", None),
    ],
)
def test_an_unreachable_upstream_says_so(text, reason):
    # What CLI 2.1.329 sends: a synthetic server_error and a result of subtype "success", no status.
    error = turn_error(FailedTurn(text, "server_error", None, "success"), 9)
    assert (error.status, error.code) == (502, "upstream_unreachable")
    assert "could not be reached" in error.message and "success" not in error.message
    if reason:
        assert reason in error.message


def test_scrub_keeps_plain_words():
    text = "input/output tokens: 429 / 500, model claude-3.5 (v1.2)"
    assert scrub(text) == text
    assert scrub("at /a/b/c.py, then ~/x and C:\\Users\\me.") == "at <path>, then <path> and <path>."
    assert scrub("see http://10.0.0.1:9/x or [::1]:80 or api.example.com:443") == "see <url> or <address> or <address>"


@pytest.mark.parametrize(
    "exc",
    [
        ProcessError("Command failed", exit_code=3, stderr="boom"),
        CLINotFoundError("Claude Code not found", "/srv/gw/bin/claude"),
        CLIConnectionError("Working directory does not exist: /srv/gw/work/abc"),
        RuntimeError("failed at /srv/gw/x"),
    ],
)
def test_sdk_exceptions_keep_their_details_in_the_log(exc, caplog):
    with caplog.at_level(logging.WARNING):
        error = sdk_exception_error(exc, "Error: cannot open /home/op/.claude/x.json", 9)
    assert "/srv/gw" not in error.message and "/home/op" not in error.message
    assert "/srv/gw" in caplog.text or "/home/op" in caplog.text
