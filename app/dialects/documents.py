"""Files given inline (OpenAI's `file_data`, Anthropic's document blocks) as Claude's blocks: an
image as an image block, a PDF as a base64 document, text as a plain-text document. Uploaded files
reach here the same way, once app/files/resolve.py has put their bytes in the request."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..core.errors import invalid_request
from ..core.messages import Block
from .request_rules import IMAGE_MEDIA_TYPES, base64_image, url_image

_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+)?(;[^,;]*)*?;base64,(?P<data>.*)$", re.DOTALL)
PDF = "application/pdf"


def file_block(file_data: str | None, filename: str | None, param: str) -> Block:
    """OpenAI's file part (chat `file`, Responses `input_file`): a data: URL (or bare base64 named
    by its filename) of an image, a PDF or text."""
    if not file_data:
        raise invalid_request(
            "A file part needs file_data (a data: URL) or the file_id of a file uploaded with POST /v1/files.",
            param,
            "missing_file_data",
        )
    match = _DATA_URL.match(file_data)
    media_type = (match.group("media") or "") if match else _by_name(filename)
    data = match.group("data").strip() if match else file_data.strip()
    media_type = media_type.lower()
    if media_type in IMAGE_MEDIA_TYPES:
        return base64_image(media_type, data, param)
    raw = _decoded(data, param)
    if media_type == PDF:
        return _titled({"type": "document", "source": {"type": "base64", "media_type": PDF, "data": data}}, filename)
    if media_type.startswith("text/"):
        text = raw.decode("utf-8", "replace")
        return _titled(
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}, filename
        )
    raise invalid_request(
        f"Unsupported file type '{media_type or 'unknown'}': Claude reads images, PDFs and text files.",
        param,
        "unsupported_file_type",
    )


def document_block(source: dict[str, Any], title: str | None, context: str | None, param: str) -> Block:
    """An Anthropic document block with the fields Claude reads: a base64 PDF, plain text or a URL."""
    kind = source.get("type")
    if kind == "base64":
        if str(source.get("media_type", "")).lower() != PDF:
            raise invalid_request(
                f"A base64 document must be {PDF}; got '{source.get('media_type')}'.",
                f"{param}.media_type",
                "unsupported_file_type",
            )
        _decoded(str(source.get("data", "")), f"{param}.data")
        block: Block = {"type": "document", "source": {"type": "base64", "media_type": PDF, "data": source["data"]}}
    elif kind == "text":
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": source["data"]}}
    else:
        url = url_image(str(source.get("url", "")), f"{param}.url")["source"]["url"]
        block = {"type": "document", "source": {"type": "url", "url": url}}
    if context:
        block["context"] = context
    return _titled(block, title)


def _titled(block: Block, title: str | None) -> Block:
    if title:
        block["title"] = title
    return block


def _by_name(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith(".pdf"):
        return PDF
    if name.endswith((".txt", ".md", ".csv", ".json")):
        return "text/plain"
    return ""


def _decoded(data: str, param: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("The file data is not valid base64.", param, "invalid_file_data") from None
