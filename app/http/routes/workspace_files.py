"""The files API of an agent session's workspace: upload, download, list, delete.

    PUT    /v1/sessions/{id}/files/{path}   the raw body becomes the file (201)
    GET    /v1/sessions/{id}/files/{path}   the file's bytes
    GET    /v1/sessions/{id}/files          every file, with sizes
    DELETE /v1/sessions/{id}/files/{path}

A caller reaches only its own workspaces (their folder is named from its tenant id), and only with
agent mode allowed. The workspace is made by an upload, so a client can send files before its
session's first turn; app/workspaces/ has the rules on paths, links and the quota.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRouter
from starlette.requests import ClientDisconnect

from ...agent.policy import agent_mode_off
from ...core.bodies import body_too_slow, whole_number
from ...core.errors import invalid_request
from ...core.wire import SESSION_ID_PATTERN
from ...tenancy.auth import Tenant, agent_mode_allowed
from ...workspaces.paths import delete_file, open_file, os_errors
from .. import openapi
from ..deps import GatewayDep, TenantDep

router = APIRouter()

STATUSES = (400, 401, 403, 404)
CHUNK = 64 * 1024


async def agent_caller(session_id: str, gateway: GatewayDep, tenant: TenantDep) -> Tenant:
    """The caller, if it may use agent mode (else 403), of a well-formed session id (else 400)."""
    if not agent_mode_allowed(tenant, gateway.settings):
        raise agent_mode_off()
    if not re.fullmatch(SESSION_ID_PATTERN, session_id):
        raise invalid_request(
            "A session id is 1-128 letters, digits or ._:- characters.", "session_id", "invalid_value"
        )
    return tenant


AgentTenantDep = Annotated[Tenant, Depends(agent_caller)]


async def known_session(gateway: GatewayDep, tenant: Tenant, session_id: str) -> None:
    """404 `session_not_found` unless the session lives or its workspace is there (it outlives a
    gateway restart, and an upload makes it before the first turn)."""
    if gateway.workspaces.exists(tenant.id, session_id):
        return
    await gateway.sessions.lookup(tenant.id, session_id)  # raises session_not_found


RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    "/v1/sessions/{session_id}/files/{path:path}",
    status_code=201,
    openapi_extra=RAW_BODY,  # the route reads the body itself, as it arrives
    **openapi.operation(statuses=(*STATUSES, 408, 413)),
)
async def upload_file(
    session_id: str, path: str, request: Request, gateway: GatewayDep, tenant: AgentTenantDep
) -> JSONResponse:
    settings = gateway.settings
    declared = whole_number(request.headers.get("content-length") or "")
    upload = gateway.workspaces.upload(tenant, session_id, path, request.stream(), declared, settings.max_body_bytes)
    try:
        with os_errors(path):
            # Slowly or never sent, a body would hold the connection for ever (as app/core/bodies.py says).
            saved = await asyncio.wait_for(upload, settings.body_read_timeout)
    except asyncio.TimeoutError:
        raise body_too_slow(settings.body_read_timeout) from None
    except ClientDisconnect:
        raise invalid_request("The client left before sending the whole file.", code="client_disconnected") from None
    return JSONResponse(saved.public(), status_code=201)


@router.get("/v1/sessions/{session_id}/files", **openapi.operation(statuses=STATUSES))
async def list_files(session_id: str, gateway: GatewayDep, tenant: AgentTenantDep) -> dict[str, Any]:
    await known_session(gateway, tenant, session_id)
    files = await asyncio.to_thread(gateway.workspaces.list, gateway.workspaces.path(tenant.id, session_id))
    return {"object": "list", "data": [file.public() for file in files], "bytes": sum(file.size for file in files)}


@router.get("/v1/sessions/{session_id}/files/{path:path}", **openapi.operation(statuses=STATUSES))
async def download_file(session_id: str, path: str, gateway: GatewayDep, tenant: AgentTenantDep) -> StreamingResponse:
    await known_session(gateway, tenant, session_id)
    with os_errors(path):
        fd, info = open_file(gateway.workspaces.path(tenant.id, session_id), path)
    name = path.rsplit("/", 1)[-1]
    headers = {
        "Content-Length": str(info.st_size),
        # Never shown as a page of the gateway's own origin (an HTML file could script the console).
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(_read(fd, info.st_size), media_type=media_type, headers=headers)


@router.delete("/v1/sessions/{session_id}/files/{path:path}", **openapi.operation(statuses=STATUSES))
async def remove_file(session_id: str, path: str, gateway: GatewayDep, tenant: AgentTenantDep) -> dict[str, Any]:
    await known_session(gateway, tenant, session_id)
    workspace = gateway.workspaces.path(tenant.id, session_id)
    with os_errors(path):
        delete_file(workspace, path)
    gateway.workspaces.touch(workspace)
    return {"object": "session.file.deleted", "path": path, "deleted": True}


def _read(fd: int, size: int) -> Iterator[bytes]:
    """The file's first `size` bytes (what Content-Length promised), then the descriptor closed."""
    try:
        left = size
        while left > 0:
            chunk = os.read(fd, min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)
