"""Reading request bodies: size-limited while reading, JSON-checked, validated into wire models."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from .errors import GatewayError, invalid_request
from .jsontext import InvalidJSON, loads
from .settings import Settings

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_json(request: Request, settings: Settings) -> dict[str, Any]:
    """The body as a JSON object, read within the size and time limits."""
    limit = settings.max_body_bytes
    declared = whole_number(request.headers.get("content-length") or "")
    if declared is not None and declared > limit:
        raise body_too_large(limit)
    try:
        # A client that promises a body and sends it slowly (or never) would hold the connection
        # and its buffer for ever: the whole body must arrive within the timeout.
        body = await asyncio.wait_for(_read(request, limit), settings.body_read_timeout)
    except asyncio.TimeoutError:
        raise body_too_slow(settings.body_read_timeout) from None
    except ClientDisconnect:  # nobody reads the answer; it must not be logged as our failure
        raise invalid_request("The client left before sending the whole body.", code="client_disconnected") from None
    try:
        data = loads(body)
    except InvalidJSON as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    return data


def whole_number(text: str, max_digits: int = 4000) -> int | None:
    """`text` as a whole number if it is one in ASCII digits, else None. str.isdigit alone lets
    through digits int() refuses ('²') and strings too long for int() (over 4300 digits), both a
    ValueError, i.e. a 500, where the client's bad value deserves a 400."""
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        return None
    return int(text)


async def _read(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():  # counted as it arrives, whatever Content-Length says
        body.extend(chunk)
        if len(body) > limit:
            raise body_too_large(limit)
    return bytes(body)


def parse(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data) from None


def validation_error(exc: ValidationError, data: Any) -> GatewayError:
    errors = exc.errors()
    refusals = [e for e in errors if e["type"] == "gateway_refusal"]
    if refusals:  # a validator's own refusal (dialects/tool_types.py): its message, code and parameter
        ctx = refusals[0].get("ctx", {})
        return invalid_request(str(ctx["message"]), str(ctx["param"]), str(ctx["code"]))
    # A union reports one error per branch; the tag mismatch or the deepest location says most.
    tagged = [e for e in errors if e["type"] == "union_tag_invalid"]
    first = tagged[0] if tagged else max(errors, key=lambda e: len(e["loc"]))
    param = _param(first["loc"], data, first["type"] == "missing")
    if first["type"] == "union_tag_invalid":
        ctx = first.get("ctx", {})
        field = str(ctx.get("discriminator", "type")).strip("'")
        field = "type" if field.endswith("()") else field  # a function finds the tag: it reads `type`
        message = (
            f"Unsupported {field} {ctx.get('tag')!r} at {param or 'body'}; "
            f"this gateway accepts {ctx.get('expected_tags')}."
        )
        return invalid_request(message, param or None, "invalid_value")
    if first["type"] == "union_tag_not_found":
        return invalid_request(
            f"Invalid value for '{param or 'body'}': expected an object with a 'type'.", param or None, "invalid_value"
        )
    if first["type"] == "missing":
        return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    return invalid_request(f"Invalid value for '{param or 'body'}': {first['msg']}.", param or None, "invalid_value")


def _param(loc: tuple[Any, ...], data: Any, missing: bool) -> str:
    """pydantic's error location as an OpenAI-style parameter path (messages[0].content[1].text).

    pydantic puts union branch names ("str", "user", "list[...]") between the real keys; walking
    the request data alongside tells them apart. The last part of a `missing` error is kept, though
    it is not in the data.
    """
    out, node = "", data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            out, node = out + f"[{part}]", node[part]
        elif isinstance(node, dict) and (part in node or (last and missing)):
            out, node = out + ("." if out else "") + str(part), node.get(part)
    return out


def body_too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"The request body is larger than this gateway accepts ({limit} bytes).",
        "invalid_request_error",
        "request_too_large",
    )


def body_too_slow(timeout: float) -> GatewayError:
    return GatewayError(
        408,
        f"The request body did not arrive within {timeout:g} s.",
        "invalid_request_error",
        "request_timeout",
        headers={"Connection": "close"},  # the rest of the body may still be on its way
    )
