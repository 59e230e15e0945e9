"""What Claude Code reports when a turn fails, as gateway errors that keep their meaning.

An upstream 429 stays a 429 with Retry-After, a rejected credential is a 502 that names it, a
missing login is a 503 that says how to log in, a crashed CLI is a 502, an overloaded upstream a
503. Anthropic's own wording is quoted so the user sees what Claude said.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from claude_agent_sdk import CLIConnectionError, CLINotFoundError, ProcessError, ResultError

from ..errors import GatewayError, rate_limited, upstream_error

log = logging.getLogger(__name__)

HOW_TO_LOG_IN = (
    "Run `claude login` on the gateway's machine (subscription), or set ANTHROPIC_API_KEY "
    "(an API key, the credential meant for serving others) or CLAUDE_CODE_OAUTH_TOKEN "
    "(from `claude setup-token`) in the gateway's environment, then retry."
)
EXTRA_USAGE_MARKER = "Third-party apps now draw from your extra usage"
# The official OpenAI and Anthropic clients honour this header: retrying these cannot help.
NO_RETRY = {"x-should-retry": "false"}


@dataclass
class FailedTurn:
    """Everything the CLI told us about a failed turn."""

    text: str = ""  # the synthetic assistant text or the result's prose
    kind: str | None = None  # AssistantMessage.error: rate_limit, authentication_failed, ...
    status: int | None = None  # api_error_status: the upstream's HTTP status
    subtype: str | None = None  # result subtype
    retry_after: int | None = None  # seconds, when Claude said when to retry


def turn_error(failure: FailedTurn, default_retry_after: int) -> GatewayError:
    text = failure.text.strip() or "Claude Code reported an error without a message."
    status, kind = failure.status, failure.kind
    if EXTRA_USAGE_MARKER in text or kind == "billing_error":
        return GatewayError(
            429,
            f"Anthropic declined this request for the gateway's Claude subscription login: "
            f'"{text}" Enable extra usage for the account at claude.ai, or give the gateway an '
            "API key (ANTHROPIC_API_KEY), which is the credential meant for serving others.",
            "insufficient_quota",
            "insufficient_quota",
            headers={"Retry-After": str(default_retry_after), **NO_RETRY},
        )
    if "Not logged in" in text or (kind == "authentication_failed" and status is None):
        return upstream_error(
            503, f"No Claude credential is available to the gateway ({text}). {HOW_TO_LOG_IN}",
            "claude_credentials_missing", NO_RETRY,
        )
    if kind == "authentication_failed" or status in (401, 403):
        return upstream_error(
            502,
            f"Claude rejected the gateway's credential (upstream {status or 'auth'} error: {text}). "
            f"Check the key or token. {HOW_TO_LOG_IN}",
            "upstream_auth_failed", NO_RETRY,
        )
    if status == 429 or kind == "rate_limit":
        wait = failure.retry_after or default_retry_after
        return rate_limited(f"Claude is rate limiting requests: {text}", wait)
    if status == 529 or "overloaded" in text.lower():
        return upstream_error(
            503, f"Claude is overloaded: {text}", "upstream_overloaded",
            {"Retry-After": str(failure.retry_after or default_retry_after)},
        )
    if status is not None and 400 <= status < 500:
        code = "model_not_found" if status == 404 else "upstream_invalid_request"
        return GatewayError(status if status in (400, 404, 413) else 400, f"Claude refused the request: {text}",
                            "invalid_request_error", code)
    if status is not None:
        return upstream_error(502, f"Claude's API failed (upstream {status}): {text}", "upstream_error")
    return upstream_error(502, f"Claude Code failed the turn ({failure.subtype or 'error'}): {text}", "claude_error")


def sdk_exception_error(exc: BaseException, stderr_tail: str, default_retry_after: int) -> GatewayError:
    """An exception raised by the SDK, as a gateway error."""
    if isinstance(exc, ResultError):
        failure = FailedTurn(
            text=exc.result or "; ".join(exc.errors), status=exc.api_error_status, subtype=exc.subtype
        )
        return turn_error(failure, default_retry_after)
    if isinstance(exc, CLINotFoundError):
        return upstream_error(503, f"The Claude Code CLI was not found: {exc}", "claude_cli_missing", NO_RETRY)
    if isinstance(exc, ProcessError):
        # The SDK's own `stderr` is a placeholder ("Check stderr output for details") unless we
        # collect it, which ClaudeProcess does. The client gets its last line; the log gets it all.
        detail = (stderr_tail or exc.stderr or "").strip()
        log.warning("Claude Code exited with %s: %s", exc.exit_code, detail)
        detail = detail.splitlines()[-1][:300] if detail else ""
        return upstream_error(
            502,
            ("The Claude Code process exited" if exc.exit_code is None else
             f"The Claude Code process failed (exit code {exc.exit_code})") + (f": {detail}" if detail else "."),
            "claude_process_failed",
        )
    if isinstance(exc, CLIConnectionError):
        return upstream_error(502, f"Lost the connection to the Claude Code process: {exc}", "claude_process_failed")
    return upstream_error(502, f"Claude Code failed: {type(exc).__name__}: {exc}", "claude_error")
