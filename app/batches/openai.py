"""OpenAI's Batch API in and out: the create request, the input file's JSONL lines, the Batch
object, and the output and error files written when a batch ends.

The input file is read when the batch is created. A file that is not a batch input (a line that
is not JSON, without a custom_id, a duplicate custom_id, another method or url than the batch's)
makes the batch `failed` with its `errors`, one per bad line, as OpenAI's validation does; a
request body the door refuses is that request's 400 in the error file, as OpenAI answers it.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Literal

from pydantic import Field

from ..core.errors import invalid_request
from ..core.wire import Wire
from ..files import Files
from .model import CANCELED, CHAT, ERRORED, EXPIRED, RESPONSES, SUCCEEDED, Batch, BatchRequest
from .stores import Storage

API = "openai"
ENDPOINTS = (CHAT, RESPONSES)
INPUT_PURPOSE, OUTPUT_PURPOSE = "batch", "batch_output"
MAX_ERRORS = 100  # a broken file's errors listed, at most


class CreateBatch(Wire):
    """POST /v1/batches."""

    input_file_id: str = Field(min_length=1, max_length=200)
    endpoint: str
    completion_window: Literal["24h"]
    metadata: dict[str, str] | None = None


def check(body: CreateBatch) -> None:
    if body.endpoint not in ENDPOINTS:
        raise invalid_request(
            f"Unsupported endpoint '{body.endpoint}': this gateway batches {', '.join(ENDPOINTS)}.",
            "endpoint",
            "invalid_value",
        )
    metadata = body.metadata or {}
    if len(metadata) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in metadata.items()):
        raise invalid_request(
            "metadata holds at most 16 pairs, keys of at most 64 characters, values of at most 512.",
            "metadata",
            "invalid_value",
        )


def error(code: str, message: str, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def read_input(data: bytes, endpoint: str, most: int) -> tuple[list[BatchRequest], list[dict[str, Any]]]:
    """The requests of an input file, or the errors that make the batch fail."""
    requests: list[BatchRequest] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as some editors write, is no part of line 1
    except UnicodeDecodeError:
        return [], [error("invalid_file_format", "The input file is not UTF-8 text (JSONL).")]
    # Lines end at "\n" only: str.splitlines() also splits at U+2028, U+0085, ..., which a JSON
    # string may hold as they are. json.loads takes the "\r" of a CRLF end as whitespace.
    # It stops at the first line past `most` requests, or once it has MAX_ERRORS errors: the rest
    # of a file that fails anyway is not parsed.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(requests) == most:
            errors.append(error("too_many_requests", f"A batch holds at most {most} requests.", number))
            break
        problem = _line_problem(line, endpoint, seen)
        if isinstance(problem, dict):
            errors.append({**problem, "line": number})
            if len(errors) == MAX_ERRORS:
                break
        else:
            requests.append(problem)
            seen.add(problem.custom_id)
    if not requests and not errors:
        errors.append(error("empty_file", "The input file holds no requests."))
    return requests, errors[:MAX_ERRORS]


def _line_problem(line: str, endpoint: str, seen: set[str]) -> BatchRequest | dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        return error("invalid_json_line", "This line is not valid JSON.")
    if not isinstance(item, dict):
        return error("invalid_request", "Each line must be a JSON object.")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > 200:
        return error("missing_required_parameter", "Each request needs a custom_id (a string).", param="custom_id")
    if custom_id in seen:
        return error("duplicate_custom_id", f"The custom_id '{custom_id}' is used twice.", param="custom_id")
    if item.get("method") != "POST":
        return error("invalid_value", "The method must be POST.", param="method")
    if item.get("url") != endpoint:
        return error("mismatched_endpoint", f"The url must be the batch's endpoint, {endpoint}.", param="url")
    if not isinstance(item.get("body"), dict):
        return error("missing_required_parameter", "Each request needs a body (a JSON object).", param="body")
    return BatchRequest(custom_id, item["body"])


def new_batch(tenant: str, key_id: str | None, body: CreateBatch, window: float) -> Batch:
    now = time.time()
    extra = {"input_file_id": body.input_file_id, "metadata": body.metadata, "completion_window": "24h"}
    return Batch("batch_" + secrets.token_hex(12), API, tenant, key_id, body.endpoint, now, now + window, extra=extra)


def status(batch: Batch) -> str:
    if not batch.ended:
        return "cancelling" if batch.cancel_initiated_at is not None else "in_progress"
    if batch.extra.get("errors"):
        return "failed"
    if batch.cancel_initiated_at is not None:
        return "cancelled"
    return "expired" if batch.counts.get(EXPIRED) else "completed"


def shown(batch: Batch) -> dict[str, Any]:
    """The Batch object."""
    state, ended = status(batch), _at(batch.ended_at)
    errors = batch.extra.get("errors")
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "model": None,
        "errors": {"object": "list", "data": errors} if errors else None,
        "input_file_id": batch.extra.get("input_file_id"),
        "completion_window": batch.extra.get("completion_window", "24h"),
        "status": state,
        "output_file_id": batch.extra.get("output_file_id"),
        "error_file_id": batch.extra.get("error_file_id"),
        "created_at": int(batch.created),
        "in_progress_at": None if state == "failed" else int(batch.created),
        "expires_at": int(batch.expires_at),
        "finalizing_at": ended if state in ("completed", "expired") else None,
        "completed_at": ended if state == "completed" else None,
        "failed_at": ended if state == "failed" else None,
        "expired_at": ended if state == "expired" else None,
        "cancelling_at": _at(batch.cancel_initiated_at),
        "cancelled_at": ended if state == "cancelled" else None,
        "request_counts": {
            "total": batch.total,
            "completed": batch.counts.get(SUCCEEDED, 0),
            "failed": batch.counts.get(ERRORED, 0),
        },
        "metadata": batch.extra.get("metadata"),
    }


def _at(at: float | None) -> int | None:
    return None if at is None else int(at)


NOT_RUN = {
    CANCELED: ("batch_cancelled", "The batch was cancelled before this request ran."),
    EXPIRED: ("batch_expired", "This request could not be run before the batch expired."),
}


def output_line(custom_id: str, state: str, result: dict[str, Any] | None) -> tuple[bool, str]:
    """A request's line, and whether it goes to the output file (else to the error file)."""
    line: dict[str, Any] = {"id": "batch_req_" + secrets.token_hex(12), "custom_id": custom_id}
    if state in NOT_RUN or result is None:
        code, message = NOT_RUN.get(state, ("batch_request_lost", "This request has no result."))
        line |= {"response": None, "error": {"code": code, "message": message}}
    else:
        line |= {
            "response": {
                "status_code": result["status"],
                "request_id": "req_" + secrets.token_hex(12),
                "body": result["body"],
            },
            "error": None,
        }
    return state == SUCCEEDED, json.dumps(line) + "\n"


async def write_files(files: Files, store: Storage, batch: Batch) -> None:
    """A batch's end: its output file (the requests that succeeded) and error file (the rest), each
    only if it has lines. They are written past the key's quota (a batch's end must not fail), but
    count in it from then on, as its results did while it ran (bounds.py)."""
    if batch.extra.get("errors"):
        return  # failed at validation: no request ran
    output: list[str] = []
    failed: list[str] = []
    for custom_id, state, result in await store.results(batch.id):
        to_output, line = output_line(custom_id, state, result)
        (output if to_output else failed).append(line)
    for name, lines, field in (("output", output, "output_file_id"), ("error", failed, "error_file_id")):
        if lines and not batch.extra.get(field):
            data = "".join(lines).encode()
            record = await files.add(
                batch.tenant, f"{batch.id}_{name}.jsonl", OUTPUT_PURPOSE, "application/jsonl", data, quota=False
            )
            batch.extra[field] = record.id
            await store.update(batch, ("extra",))  # at once: a stop before the end must not write it twice
