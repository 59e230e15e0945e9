"""The Files API, in both its shapes (app/files/shapes.py), on the same paths:

    POST   /v1/files                multipart: `file` (and `purpose`, OpenAI)
    GET    /v1/files                the caller's files, newest first
    GET    /v1/files/{id}           one file's record
    GET    /v1/files/{id}/content   its bytes
    DELETE /v1/files/{id}

A caller sees only its own files (another's are 404), within GATEWAY_FILE_MAX_MB per file and
GATEWAY_FILES_QUOTA_MB for all of its files. The shape is the caller's: the anthropic client always
sends `anthropic-version`, and gets Anthropic's records and error envelope; others get OpenAI's.

An upload is never held whole in memory: its Content-Length is checked against the file limit
and the key's quota before a byte is read, the multipart body is parsed as it arrives (the file
part spooled to a temporary file past 1 MB, Starlette's), and the store writes from that file a
piece at a time. Reading the body first, then parsing it, then the part's bytes, then the store's
own copy held about five copies of each file: four concurrent 31 MB uploads took the gateway
from 124 to 798 MB.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.routing import APIRouter
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from ...core.bodies import body_too_slow, whole_number
from ...core.errors import GatewayError, invalid_request
from ...files.base import FileRecord, Files, too_large
from ...files.shapes import ANTHROPIC, OPENAI_PURPOSES, anthropic_file, base_name, media_type_of, openai_file
from .. import openapi
from ..deps import GatewayDep, TenantDep
from ..respond import anthropic_shaped

router = APIRouter()

STATUSES = (400, 401, 404)
FRAMING = 1024 * 1024  # what a multipart body may hold besides the file (boundaries, fields)
HEAD = 64  # the bytes that tell a file's type (shapes.media_type_of)


def is_anthropic(request: Request) -> bool:
    """An Anthropic client's request (answered in Anthropic's shapes), as errors tell (http/respond.py)."""
    return anthropic_shaped(request.url.path, request.headers)


def not_found(file_id: str) -> GatewayError:
    return GatewayError(404, f"No such file: {file_id!r}.", "invalid_request_error", "file_not_found", "file_id")


@router.post("/v1/files", **openapi.operation(statuses=(*STATUSES, 408, 413)))
async def upload(request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    anthropic = is_anthropic(request)
    settings = gateway.settings
    form = await _form(
        request, gateway.files, tenant.id, settings.file_max_mb * 1024 * 1024, settings.body_read_timeout
    )
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise invalid_request("Send the file as the multipart part named 'file'.", "file", "missing_file")
        purpose = ANTHROPIC if anthropic else _purpose(form.get("purpose"))
        expires_in = _expiry(form, anthropic)
        head = await part.read(HEAD)
        media_type = media_type_of(head, part.content_type, part.filename or "")
        record = await gateway.files.add(
            tenant.id,
            base_name(part.filename, media_type),
            purpose,
            media_type,
            part.file,  # the store reads it from its start
            expires_at=None if expires_in is None else time.time() + expires_in,
        )
    finally:
        await form.close()  # the spooled file's disk space
    return _shown(record, anthropic)


@router.get("/v1/files", **openapi.operation(statuses=STATUSES))
async def list_files(request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    query = request.query_params
    if is_anthropic(request):
        limit = _limit(query.get("limit"), 20, 1000)
        page = query.get("page")
        after = query.get("after_id") or (page[len("page_") :] if page and page.startswith("page_") else page)
        before = query.get("before_id")
        found = await gateway.files.list(tenant.id, None, after, limit + 1, before=before)
        more = len(found) > limit
        found = found[1:] if more and before else found[:limit]
        data = [anthropic_file(record) for record in found]
        return {
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
            # the newer clients' cursor: the next (older) page, after this one's last file
            "next_page": f"page_{data[-1]['id']}" if more and data and not before else None,
        }
    if query.get("order", "desc") != "desc":
        raise invalid_request("This gateway lists files newest first only (order=desc).", "order", "invalid_value")
    limit = _limit(query.get("limit"), 10_000, 10_000)
    found = await gateway.files.list(tenant.id, query.get("purpose"), query.get("after"), limit + 1)
    data = [openai_file(record) for record in found[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(found) > limit,
    }


@router.get("/v1/files/{file_id}", **openapi.operation(statuses=STATUSES))
async def retrieve(file_id: str, request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    record = await gateway.files.get(tenant.id, file_id)
    if record is None:
        raise not_found(file_id)
    return _shown(record, is_anthropic(request))


@router.get("/v1/files/{file_id}/content", **openapi.operation(statuses=STATUSES))
async def content(file_id: str, gateway: GatewayDep, tenant: TenantDep) -> Response:
    record = await gateway.files.get(tenant.id, file_id)
    data = None if record is None else await gateway.files.content(tenant.id, file_id)
    if record is None or data is None:
        raise not_found(file_id)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(record.filename, safe='')}",
        # Never shown as a page of the gateway's own origin (an HTML file could script the console),
        # as a workspace's file is not either (app/http/routes/workspace_files.py).
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    return Response(data, media_type=record.media_type, headers=headers)


@router.delete("/v1/files/{file_id}", **openapi.operation(statuses=STATUSES))
async def delete(file_id: str, request: Request, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    if not await gateway.files.delete(tenant.id, file_id):
        raise not_found(file_id)
    if is_anthropic(request):
        return {"id": file_id, "type": "file_deleted"}
    return {"id": file_id, "object": "file", "deleted": True}


def _shown(record: FileRecord, anthropic: bool) -> dict[str, Any]:
    return anthropic_file(record) if anthropic else openai_file(record)


async def _form(request: Request, files: Files, tenant: str, max_file: int, timeout: float) -> FormData:
    """The multipart form, parsed as its body arrives within the size (the file and FRAMING) and
    time limits; a Content-Length past the file limit or the key's quota is refused unread. The
    caller closes the form (its file part may be a temporary file)."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise invalid_request("Upload the file as multipart/form-data.", "file", "invalid_content_type")
    limit = max_file + FRAMING
    declared = whole_number(request.headers.get("content-length") or "")
    if declared is not None and declared > limit:
        raise _too_big(max_file)
    # The file is at least the body less its framing: a key at its quota pays no read.
    await files.room(tenant, max(0, (declared or 0) - FRAMING))
    body = _Counted(request, limit, max_file)
    parser = MultiPartParser(request.headers, body.chunks(), max_files=1, max_fields=20)
    try:
        form = await asyncio.wait_for(parser.parse(), timeout)  # files closed on any failure
    except asyncio.TimeoutError:
        raise body_too_slow(timeout) from None
    except ClientDisconnect:
        raise invalid_request("The client left before sending the whole body.", code="client_disconnected") from None
    except MultiPartException as exc:
        raise invalid_request(f"The multipart body is malformed: {exc.message}", "file", "invalid_multipart") from None
    part = form.get("file")
    file_size = (part.size or 0) if isinstance(part, UploadFile) else 0
    if body.read - file_size > FRAMING:
        await form.close()  # fields past FRAMING would make the quota's check above unsound
        raise invalid_request(
            f"The multipart body holds more than {FRAMING} bytes besides its file.", "file", "invalid_multipart"
        )
    return form


class _Counted:
    """The request's body as it arrives, counted: past `limit`, a 413 ends the parse."""

    def __init__(self, request: Request, limit: int, max_file: int) -> None:
        self.request, self.limit, self.max_file = request, limit, max_file
        self.read = 0

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        async for chunk in self.request.stream():
            self.read += len(chunk)
            if self.read > self.limit:
                raise _too_big(self.max_file)
            yield chunk


def _too_big(max_file: int) -> GatewayError:
    return too_large(
        f"The upload is larger than this gateway takes: files of at most {max_file} bytes (GATEWAY_FILE_MAX_MB).",
        "file_too_large",
    )


def _purpose(value: object) -> str:
    if not isinstance(value, str) or value not in OPENAI_PURPOSES:
        raise invalid_request(
            f"'purpose' must be one of {', '.join(OPENAI_PURPOSES)}; got {value!r}.", "purpose", "invalid_value"
        )
    return value


def _expiry(form: Any, anthropic: bool) -> int | None:
    """Seconds until the file expires, if asked: Anthropic's expires_in_seconds (1 hour to 90
    days), OpenAI's expires_after[seconds] from created_at (1 hour to 30 days)."""
    name, most = ("expires_in_seconds", 7_776_000) if anthropic else ("expires_after[seconds]", 2_592_000)
    value = form.get(name)
    if value is None:
        return None
    if not anthropic and form.get("expires_after[anchor]", "created_at") != "created_at":
        raise invalid_request("expires_after[anchor] must be 'created_at'.", "expires_after.anchor", "invalid_value")
    seconds = whole_number(value) if isinstance(value, str) else None
    if seconds is None or not 3600 <= seconds <= most:
        raise invalid_request(f"{name} must be a whole number from 3600 to {most}.", name, "invalid_value")
    return seconds


def _limit(value: str | None, default: int, most: int) -> int:
    if value is None:
        return default
    number = whole_number(value)
    if number is None or not 1 <= number <= most:
        raise invalid_request(f"'limit' must be a whole number from 1 to {most}.", "limit", "invalid_value")
    return number
