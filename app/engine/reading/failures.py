"""What Claude Code reports when a turn fails, as gateway errors that keep their meaning.

An upstream 429 stays a 429 with Retry-After, a rejected credential is a 502 that names it, a
missing login is a 503 that says how to log in, a refusal for the account's quota (extra usage, the
Agent SDK credit, a credit balance) is a 429 `insufficient_quota`, a crashed CLI is a 502, an overloaded upstream a
503, an unreachable upstream a 502 that says so.

What the client is told is not what the log gets. Refusals the user must act on (extra usage,
rate limits, a refused request, a rejected credential) quote Anthropic's wording, with local
paths, URLs and host:port addresses taken out. Server errors and crashes get a short reason of
our own: their text is the CLI's (stderr with local paths, "check your inference gateway
(127.0.0.1:...)"), which is the operator's business. The whole text always goes to the log.

Refusals of the credential itself (rejected, missing, out of quota) are `CredentialRefusal`s,
worded for the operator, whose credential it is by default. For a turn that ran with the caller's
own credential, `for_user` words it for them instead: their credential, what they can do, and
nothing of the operator's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

from claude_agent_sdk import CLIConnectionError, CLINotFoundError, ProcessError, ResultError

from ...core.credentials import Credential
from ...core.errors import GatewayError, rate_limited, upstream_error

log = logging.getLogger(__name__)

HOW_TO_LOG_IN = (
    "Run `claude login` on the gateway's machine (subscription), or set ANTHROPIC_API_KEY "
    "(an API key, the credential meant for serving others) or CLAUDE_CODE_OAUTH_TOKEN "
    "(from `claude setup-token`) in the gateway's environment, then retry."
)
EXTRA_USAGE_MARKER = "Third-party apps now draw from your extra usage"
# A refusal for the account's quota: the subscription's extra usage or Agent SDK credit, an API
# key's credit balance ("Your credit balance is too low to access the Anthropic API").
QUOTA_MARKERS = re.compile(r"extra usage|\bcredit", re.IGNORECASE)
# Claude Code's own check before any call ("Prompt is too long"), and its rewording of Anthropic's
# 400 ("prompt is too long: N tokens > M maximum"): both the client's to fix.
PROMPT_TOO_LONG_MARKER = "prompt is too long"
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


# How Claude Code words an upstream it could not reach (CLI 2.1.329): "API Error: " and one of these.
UNREACHABLE_MARKERS = (
    "Unable to connect to API",
    "Connection refused",
    "Can't reach the API server",
    "No internet route",
    "Couldn't connect through your proxy",
    "Connection dropped",
    "Request timed out",
)
_OPERATOR_HINT = re.compile(r"\s*If it persists, check .*$", re.DOTALL)  # names the upstream's address
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
_ADDRESS = re.compile(
    r"\[[0-9a-fA-F:.]+\](?::\d+)?"  # [::1]:8080
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"  # 10.0.0.1:443
    r"|\b(?:localhost|[\w-]+(?:\.[\w-]+)+):\d{1,5}\b"  # name:port
)
_PATH = re.compile(r"(?<![\w/.~-])(?:~|\.{1,2})?/(?:[\w.@%+=,-]+/?)+|\b[A-Za-z]:\\\S+")


def scrub(text: str) -> str:
    """`text` without local paths, URLs and network addresses, for a client to read."""
    text = _OPERATOR_HINT.sub("", text)
    text = _URL.sub("<url>", text)
    text = _ADDRESS.sub("<address>", text)
    return _PATH.sub(lambda m: "<path>" + m.group(0)[len(m.group(0).rstrip(".,")) :], text).strip()


@dataclass
class CredentialRefusal(GatewayError):
    """Claude refused the credential itself: `reason` is "rejected" or "quota", `quoted` the
    upstream's words, safe for a client to read."""

    reason: str = "rejected"
    quoted: str = ""
    retry_after: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def for_user(self, credential: Credential) -> GatewayError:
        """The refusal as the caller whose own credential it was must hear it."""
        if self.reason == "quota":
            return GatewayError(
                429,
                f"Anthropic declined this request for your own Claude credential ({credential.label}): "
                f'"{self.quoted}" Enable extra usage (or buy credits) for that account, or use an '
                "Anthropic API key with credit.",
                "insufficient_quota",
                "user_credential_quota",
                headers={"Retry-After": str(self.retry_after), **NO_RETRY},
            )
        return GatewayError(
            401,
            f"Claude rejected your own Claude credential ({credential.label}): {self.quoted} "
            "Check it, or send a valid one (this is not about your key for this gateway).",
            "authentication_error",
            "user_credential_rejected",
            headers=dict(NO_RETRY),
        )


def turn_error(failure: FailedTurn, default_retry_after: int) -> GatewayError:
    raw = failure.text.strip()
    log.warning(
        "Claude Code failed a turn (upstream status %s, %s, %s): %s",
        failure.status,
        failure.kind,
        failure.subtype,
        raw or "no message",
    )
    text = scrub(raw) or "Claude Code reported an error without a message."
    status, kind = failure.status, failure.kind
    quota = QUOTA_MARKERS.search(text) and (status in (400, 402, 403, 429) or EXTRA_USAGE_MARKER in text)
    if quota or kind == "billing_error":
        return CredentialRefusal(
            429,
            f"Anthropic declined this request for the gateway's Claude credential: "
            f'"{text}" Enable extra usage (or buy credits) for the account, or give the gateway an '
            "API key (ANTHROPIC_API_KEY), which is the credential meant for serving others.",
            "insufficient_quota",
            "insufficient_quota",
            headers={"Retry-After": str(default_retry_after), **NO_RETRY},
            reason="quota",
            quoted=text,
            retry_after=default_retry_after,
        )
    if PROMPT_TOO_LONG_MARKER in text.lower():
        return GatewayError(
            400,
            f"The conversation is too long for the model's context window: {text}",
            "invalid_request_error",
            "context_length_exceeded",
            headers=dict(NO_RETRY),
        )
    if "Not logged in" in text or (kind == "authentication_failed" and status is None):
        return CredentialRefusal(
            503,
            f"No Claude credential is available to the gateway ({text}). {HOW_TO_LOG_IN}",
            "api_error",
            "claude_credentials_missing",
            headers=dict(NO_RETRY),
            quoted=f"({text})",
        )
    if kind == "authentication_failed" or status in (401, 403):
        return CredentialRefusal(
            502,
            f"Claude rejected the gateway's credential (upstream {status or 'auth'} error: {text}). "
            f"Check the key or token. {HOW_TO_LOG_IN}",
            "api_error",
            "upstream_auth_failed",
            headers=dict(NO_RETRY),
            quoted=f"(upstream {status or 'auth'} error: {text})",
        )
    if status == 429 or kind == "rate_limit":
        wait = failure.retry_after or default_retry_after
        return rate_limited(f"Claude is rate limiting requests: {text}", wait)
    if status == 529 or "overloaded" in text.lower():
        return upstream_error(
            503,
            "Claude is overloaded; retry shortly.",
            "upstream_overloaded",
            {"Retry-After": str(failure.retry_after or default_retry_after)},
        )
    if status is not None and 400 <= status < 500:
        code = "model_not_found" if status == 404 else "upstream_invalid_request"
        return GatewayError(
            status if status in (400, 404, 413) else 400,
            f"Claude refused the request: {text}",
            "invalid_request_error",
            code,
        )
    if status is not None:
        return upstream_error(502, f"Claude's API failed (upstream {status}); retry shortly.", "upstream_error")
    if any(marker in raw for marker in UNREACHABLE_MARKERS):
        reason = re.search(r"\(([A-Z][A-Za-z_]+)\)", raw)
        return upstream_error(
            502,
            "The Claude API could not be reached from the gateway"
            + (f" ({reason.group(1)})" if reason else "")
            + ". Retry later; if it persists, the gateway's "
            "operator should check its network connection and proxy.",
            "upstream_unreachable",
        )
    return upstream_error(
        502, "Claude Code could not complete the turn; the gateway's log has the details.", "claude_error"
    )


def sdk_exception_error(exc: BaseException, stderr_tail: str, default_retry_after: int) -> GatewayError:
    """An exception raised by the SDK, as a gateway error (the details go to the log only)."""
    if isinstance(exc, ResultError):
        failure = FailedTurn(text=exc.result or "; ".join(exc.errors), status=exc.api_error_status, subtype=exc.subtype)
        return turn_error(failure, default_retry_after)
    if isinstance(exc, CLINotFoundError):
        log.warning("Claude Code CLI not found: %s", exc)
        return upstream_error(
            503, "The Claude Code CLI was not found on the gateway's machine.", "claude_cli_missing", NO_RETRY
        )
    if isinstance(exc, ProcessError):
        # The SDK's own `stderr` is a placeholder ("Check stderr output for details") unless we
        # collect it, which ClaudeProcess does.
        log.warning("Claude Code exited with %s: %s", exc.exit_code, (stderr_tail or exc.stderr or "").strip())
        return upstream_error(
            502,
            (
                "The Claude Code process exited"
                if exc.exit_code is None
                else f"The Claude Code process failed (exit code {exc.exit_code})"
            )
            + "; the gateway's log has the details.",
            "claude_process_failed",
        )
    if isinstance(exc, CLIConnectionError):
        log.warning("lost the connection to Claude Code: %s", exc)
        return upstream_error(502, "Lost the connection to the Claude Code process.", "claude_process_failed")
    log.warning("Claude Code failed: %r", exc)
    return upstream_error(502, f"Claude Code failed ({type(exc).__name__}).", "claude_error")


def start_error(exc: BaseException, connect_timeout: float, default_retry_after: int) -> GatewayError:
    """A Claude Code process that could not be started, as a gateway error."""
    if isinstance(exc, asyncio.TimeoutError):
        return upstream_error(
            504, f"The Claude Code process did not start within {connect_timeout:g} s.", "claude_start_timeout"
        )
    return sdk_exception_error(exc, "", default_retry_after)
