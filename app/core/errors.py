"""One error type for the whole gateway, rendered in each API's own envelope.

Code anywhere raises `GatewayError`; the HTTP app's handlers (app/http/handlers.py, app/http/respond.py)
and the streaming translators turn it into `{"error": {"message", "type", "param", "code"}}` for OpenAI
clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}


@dataclass
class GatewayError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code or self.type}: {self.message}"

    def anthropic_body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.anthropic_type, "message": self.message}}

    @property
    def anthropic_type(self) -> str:
        """Anthropic's error type for this status."""
        return ANTHROPIC_TYPES.get(self.status, "api_error" if self.status >= 500 else "invalid_request_error")

    def openai_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", code, param)


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        404,
        f"The model '{model}' does not exist. GET /v1/models lists the models this gateway serves.",
        "invalid_request_error",
        "model_not_found",
        "model",
    )


def invalid_api_key() -> GatewayError:
    return GatewayError(
        401,
        "Missing or invalid API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        "invalid_request_error",
        "invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def rate_limited(message: str, retry_after: int, code: str = "rate_limit_exceeded") -> GatewayError:
    return GatewayError(429, message, "rate_limit_error", code, headers={"Retry-After": str(retry_after)})


def upstream_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> GatewayError:
    return GatewayError(status, message, "api_error", code, headers=headers or {})


def store_unavailable() -> GatewayError:
    """Redis (GATEWAY_REDIS_URL) out of reach: the gateway's outage, not a bug; a 503 to retry."""
    error = GatewayError(
        503, "The gateway's shared store cannot be reached; retry shortly.", "server_error", "store_unavailable"
    )
    error.headers["Retry-After"] = "5"
    return error


# The session layer's refusals (raised by sessions/ and by the workspaces of agent sessions).


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
