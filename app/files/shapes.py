"""A file as each Files API shows it, and what an upload's name and type are.

The OpenAI shape: `{"object": "file", "bytes", "created_at" (epoch), "filename", "purpose",
"status"...}`; the Anthropic one (beta): `{"type": "file", "size_bytes", "created_at" (RFC 3339),
"mime_type", "downloadable"...}`. Both APIs use the same paths: the caller's client tells which
(the anthropic client always sends `anthropic-version`).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from ..dialects.request_rules import rfc3339
from .base import FileRecord

ANTHROPIC = "anthropic"  # the purpose of a file uploaded through the Anthropic shape
# What an OpenAI client may upload; "batch_output" is the gateway's own (batch results).
OPENAI_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
# The types Claude reads as images or PDFs: only the bytes' signature makes a file one of them.
SIGNED = frozenset(media_type for _, media_type in SIGNATURES) | {"image/webp"}
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def openai_file(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.size,
        "created_at": int(record.created),
        "filename": record.filename,
        # the OpenAI client knows no "anthropic" purpose: such a file is the caller's data
        "purpose": "user_data" if record.purpose == ANTHROPIC else record.purpose,
        "status": "processed",
        "expires_at": None if record.expires_at is None else int(record.expires_at),
        "status_details": None,
    }


def anthropic_file(record: FileRecord) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": record.id,
        "type": "file",
        "filename": record.filename,
        "mime_type": record.media_type,
        "size_bytes": record.size,
        "created_at": rfc3339(record.created),
        "downloadable": True,  # the gateway serves every file's content back to its owner
    }
    if record.expires_at is not None:
        shown["expires_at"] = rfc3339(record.expires_at)
    return shown


def base_name(filename: str | None, media_type: str) -> str:
    """Only the last part of a sent path (either slash); none: 'unnamed' and the type's extension."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name.strip()
    if name:
        return name[:1000]
    return "unnamed" + (mimetypes.guess_extension(media_type) or "")


def media_type_of(data: bytes, sent: str | None, filename: str) -> str:
    """What the bytes are: their signature for the types Claude reads (a client's label may be
    generic or wrong), else the part's Content-Type, else a guess from the name. A label (or name)
    claiming an image or a PDF that the bytes' signature did not confirm is not trusted: a text
    file sent as image/png would reach Claude as a broken image."""
    for signature, media_type in SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    sent = (sent or "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.match(sent) or sent == "application/octet-stream":
        sent = mimetypes.guess_type(filename)[0] or ""
    return sent if sent and sent not in SIGNED else "application/octet-stream"
