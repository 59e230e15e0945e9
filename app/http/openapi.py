"""What /openapi.json says about the routes: request bodies, and the statuses each route answers.

The POST routes read their bodies themselves (app/core/bodies.py: counted while reading, within a
time limit) instead of letting FastAPI parse them, so FastAPI cannot see their request models and
would publish operations with no body at all. A route declares its model with `operation(...)`;
`install(app)` adds the models' JSON schemas to the document's components and points each
operation's request body at its model.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_MARK = "x-request-model"
_REQUEST_MODELS: dict[str, type[BaseModel]] = {}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error envelope, used on every route but /v1/messages*."""

    error: OpenAIErrorDetail


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicErrorResponse(BaseModel):
    """Anthropic's error envelope, used on /v1/messages*."""

    type: str = "error"
    error: AnthropicErrorDetail


STATUSES = {
    400: "Invalid request: malformed JSON, a bad parameter, a prompt too long (context_length_exceeded)",
    401: "Missing or wrong gateway API key",
    403: "A keyless gateway asked from another machine, host name or web page",
    404: "Unknown model, session or stored response",
    408: "The request body did not arrive in time",
    409: "The session is in another turn",
    413: "The request body is too large",
    429: "Claude's rate limit, every Claude process busy, or the subscription's usage refused",
    502: "Claude's API or the Claude Code process failed",
    503: "No Claude credential, Claude Code missing, or Claude overloaded",
    504: "The turn took longer than the gateway allows",
}
TURN_STATUSES = (400, 401, 403, 404, 408, 409, 413, 429, 502, 503, 504)


def operation(
    model: type[BaseModel] | None = None, statuses: tuple[int, ...] = TURN_STATUSES, anthropic: bool = False
) -> dict[str, Any]:
    """Route options: `model` as the JSON request body, and the error statuses with the envelope."""
    envelope = AnthropicErrorResponse if anthropic else OpenAIErrorResponse
    options: dict[str, Any] = {
        "responses": {status: {"model": envelope, "description": STATUSES[status]} for status in statuses},
    }
    if model is not None:
        key = f"{model.__module__}.{model.__qualname__}"
        _REQUEST_MODELS[key] = model
        options["openapi_extra"] = {_MARK: key}
    return options


def install(app: FastAPI) -> None:
    """Make `app.openapi()` publish the request models of the routes declared with `operation`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_request_bodies(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_request_bodies(document: dict[str, Any]) -> dict[str, Any]:
    models = list(_REQUEST_MODELS.values())
    # One schema set for all the models, so that same-named models of two APIs (FunctionTool...)
    # get distinct names.
    refs, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        if name in components and components[name] != schema:
            raise RuntimeError(f"two different schemas named {name} in the OpenAPI document")
        components[name] = schema
    for operations in document.get("paths", {}).values():
        for spec in operations.values():
            key = spec.pop(_MARK, None)
            if key is not None:
                ref = refs[(_REQUEST_MODELS[key], "validation")]
                spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    return document
