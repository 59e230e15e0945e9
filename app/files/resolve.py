"""File ids in a turn's request, resolved before it is parsed and translated (the translators are
pure): each reference to an uploaded file becomes the same content given inline, in the door's
own vocabulary, so that a file and an inline image or PDF then take one path to Claude.

    /v1/messages           {"type": "image"|"document", "source": {"type": "file", "file_id"}}
                           -> a base64 source (a text file: a text source)
    /v1/chat/completions   {"type": "file", "file": {"file_id"}} -> {"file": {"file_data", "filename"}}
    /v1/responses          {"type": "input_file", "file_id"} -> file_data and filename;
                           {"type": "input_image", "file_id"} -> an image_url data: URL

Only the caller's files are found: an unknown id (or another tenant's) is a 400 naming where it
was; a file sent twice is read once. What the references add up to (each one counted: each becomes
its own copy in the request) is capped at MAX_RESOLVED_BYTES, so that a small body naming one big
file thousands of times cannot grow into gigabytes in memory.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.errors import GatewayError, invalid_request
from .base import MB, FileRecord, Files

Resolver = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Read = Callable[[object, str], Awaitable[tuple[FileRecord, bytes]]]
Lookup = Callable[[str, str], Awaitable[tuple[FileRecord, bytes]]]  # one file id, not yet found
ROOTS = {"messages": "messages", "chat": "messages", "responses": "input"}
MAX_RESOLVED_BYTES = 32 * MB  # the Messages API's own request size limit: Claude takes no more
MAX_FILES = 1000  # different files one batch may name (checker): each is one lookup at its create


def resolver(files: Files, tenant: str, door: str) -> Resolver:
    """What resolves the file ids of one request body of `door` ("messages", "chat", "responses")."""

    async def lookup(file_id: str, where: str) -> tuple[FileRecord, bytes]:
        record = await files.get(tenant, file_id)
        data = None if record is None else await files.content(tenant, file_id)
        if record is None or data is None:
            raise not_found(file_id, where)
        return record, data

    async def resolve(body: dict[str, Any]) -> dict[str, Any]:
        return await _resolved(body, door, {}, lookup)

    return resolve


def checker(files: Files, tenant: str, door: str, most: int | None = None) -> Resolver:
    """What checks the file ids of many request bodies of `door` without reading a file: each
    reference becomes an empty stand-in of its kind (so that the body can be checked as the door's
    request), each distinct id looked up once over all the bodies, at most `most` distinct ids, and
    each body's references counted against MAX_RESOLVED_BYTES by their records' sizes. The content
    is read when each request runs (`resolver`). For a batch's create: 100,000 requests naming one
    file read and base64-encoded it 100,000 times."""
    known: dict[str, tuple[FileRecord, bytes]] = {}
    most = MAX_FILES if most is None else most

    async def lookup(file_id: str, where: str) -> tuple[FileRecord, bytes]:
        if len(known) >= most:
            raise invalid_request(f"A batch names at most {most} different files.", where, "too_many_files")
        record = await files.get(tenant, file_id)
        if record is None:
            raise not_found(file_id, where)
        return record, b""

    async def check(body: dict[str, Any]) -> dict[str, Any]:
        return await _resolved(body, door, known, lookup)

    return check


async def _resolved(
    body: dict[str, Any], door: str, found: dict[str, tuple[FileRecord, bytes]], lookup: Lookup
) -> dict[str, Any]:
    """`body` with its file references resolved: each id a string, looked up once (`lookup`, for
    those not in `found`, which keeps what it gave) and all its references counted together."""
    total = 0

    async def read(file_id: object, where: str) -> tuple[FileRecord, bytes]:
        nonlocal total
        if not isinstance(file_id, str):
            raise invalid_request("A file_id must be a string.", where, "invalid_value")
        if file_id not in found:
            found[file_id] = await lookup(file_id, where)
        total = _counted(total, found[file_id][0].size, where)
        return found[file_id]

    root = ROOTS[door]
    await _walk(body.get(root), root, door, read)
    return body


def not_found(file_id: str, where: str) -> GatewayError:
    return invalid_request(f"No file {file_id!r}: upload it with POST /v1/files first.", where, "file_not_found")


def _counted(total: int, size: int, where: str) -> int:
    """`total` with one more reference of `size` bytes, within MAX_RESOLVED_BYTES."""
    total += size
    if total > MAX_RESOLVED_BYTES:
        raise GatewayError(
            413,
            f"The files this request names add up to more than {MAX_RESOLVED_BYTES} bytes "
            "(each reference counted), more than Claude takes in one request.",
            "invalid_request_error",
            "request_too_large",
            where,
        )
    return total


async def _walk(node: Any, where: str, door: str, read: Read) -> None:
    """Resolve every file reference under `node` (in place)."""
    if isinstance(node, list):
        for i, child in enumerate(node):
            await _walk(child, f"{where}[{i}]", door, read)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    source = node.get("source")
    if (
        door == "messages"
        and kind in ("image", "document")
        and isinstance(source, dict)
        and source.get("type") == "file"
    ):
        record, data = await read(node["source"].get("file_id"), f"{where}.source.file_id")
        node["source"] = _anthropic_source(record, data)
    elif door == "chat" and kind == "file" and isinstance(node.get("file"), dict) and "file_id" in node["file"]:
        record, data = await read(node["file"].pop("file_id"), f"{where}.file.file_id")
        node["file"] = {**node["file"], "file_data": data_url(record, data), "filename": record.filename}
    elif door == "responses" and kind in ("input_file", "input_image") and node.get("file_id") is not None:
        record, data = await read(node.pop("file_id"), f"{where}.file_id")
        if kind == "input_image":
            node["image_url"] = data_url(record, data)
        else:
            node.update(file_data=data_url(record, data), filename=record.filename)
    for key, child in node.items():
        if isinstance(child, (list, dict)) and key != "source":
            await _walk(child, f"{where}.{key}", door, read)


def _anthropic_source(record: FileRecord, data: bytes) -> dict[str, Any]:
    """A text file as a text source (Claude reads it as a plain-text document), else base64."""
    if record.media_type.startswith("text/"):
        return {"type": "text", "media_type": "text/plain", "data": data.decode("utf-8", "replace")}
    return {"type": "base64", "media_type": record.media_type, "data": base64.b64encode(data).decode()}


def data_url(record: FileRecord, data: bytes) -> str:
    return f"data:{record.media_type};base64,{base64.b64encode(data).decode()}"
