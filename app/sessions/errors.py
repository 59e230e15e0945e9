"""The session layer's refusals, in the gateway's error type (each door renders its own envelope)."""

from __future__ import annotations

from ..core.errors import GatewayError


def session_not_found(session_id: str) -> GatewayError:
    return GatewayError(404, f"No session '{session_id}'.", "invalid_request_error", "session_not_found", "session_id")


def too_many_sessions(limit: int) -> GatewayError:
    return GatewayError(
        429,
        f"This API key already has {limit} sessions, the most this gateway keeps for one key. "
        "Delete some (DELETE /v1/sessions/{id}) or wait for them to expire.",
        "rate_limit_error",
        "too_many_sessions",
        "session_id",
        headers={"Retry-After": "60"},
    )


def credential_mismatch(session_id: str) -> GatewayError:
    return GatewayError(
        409,
        f"Session '{session_id}' runs with another Claude credential than this request's; a session "
        "keeps the credential it started with. Send that credential, or start a new session.",
        "invalid_request_error",
        "session_credential_mismatch",
        "session_id",
    )


def session_busy(session_id: str) -> GatewayError:
    return GatewayError(
        409,
        f"Session '{session_id}' is busy with another request; retry when it has finished.",
        "invalid_request_error",
        "session_busy",
        "session_id",
    )


def session_exists(session_id: str) -> GatewayError:
    return GatewayError(409, f"Session '{session_id}' already exists.", "invalid_request_error", "session_exists", "id")
