"""Reading request bodies: size-limited while reading, JSON-checked, validated into wire models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from .errors import GatewayError, invalid_request

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():  # counted as it arrives, whatever Content-Length says
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    return data


def parse(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> GatewayError:
    errors = exc.errors()
    # A union reports one error per branch; the tag mismatch or the deepest location says most.
    tagged = [e for e in errors if e["type"] == "union_tag_invalid"]
    first = tagged[0] if tagged else max(errors, key=lambda e: len(e["loc"]))
    param = _param(first["loc"])
    if first["type"] == "union_tag_invalid":
        ctx = first.get("ctx", {})
        field = str(ctx.get("discriminator", "type")).strip("'")
        message = (
            f"Unsupported {field} {ctx.get('tag')!r} at {param or 'body'}; "
            f"this gateway accepts {ctx.get('expected_tags')}."
        )
    elif first["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
    else:
        message = f"Invalid value for '{param or 'body'}': {first['msg']}."
    return invalid_request(message, param or None, "invalid_value" if first["type"] != "missing" else "missing_required_parameter")


def _param(loc: tuple[Any, ...]) -> str:
    """pydantic's error location as an OpenAI-style parameter path: messages[0].content[1].type"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"str", "list[TextPart]", "list[tagged-union[TextPart,ImagePart]]"} or "[" in str(part):
            continue  # union branch names say nothing to a client
        elif part in {"system", "developer", "user", "assistant", "tool", "text", "image_url", "refusal"} and out.endswith("]"):
            continue  # discriminator branch names
        else:
            out += ("." if out else "") + str(part)
    return out


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, f"The request body is larger than this gateway accepts ({limit} bytes).",
        "invalid_request_error", "request_too_large",
    )
