"""Uploaded files referenced by id, end to end: the official clients upload through /v1/files, the
three doors reference the file, and the real Claude Code CLI sends Claude (the fake API) the
uploaded bytes as an image block, or a PDF as a document block."""

from __future__ import annotations

import base64

import anthropic
import pytest

from tests.e2e.conftest import API_KEY
from tests.support import conversation

pytestmark = pytest.mark.e2e

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def claude(gateway, fake) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=API_KEY, max_retries=0)


def sent_blocks(fake, kind: str) -> list[dict]:
    """The blocks of `kind` in the last user message Claude received."""
    role, blocks = conversation(fake.requests[-1])[-1]
    assert role == "user"
    return [block for block in blocks if block["type"] == kind]


def test_an_uploaded_image_reaches_claude_from_each_door(client, claude, fake):
    file_id = claude.beta.files.upload(file=("dot.png", PNG, "image/png")).id
    expected = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}

    claude.messages.create(
        model="sonnet",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "file", "file_id": file_id}},
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    assert [b["source"] for b in sent_blocks(fake, "image")] == [expected]

    client.chat.completions.create(
        model="sonnet",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "And this?"}, {"type": "file", "file": {"file_id": file_id}}],
            }
        ],
    )
    assert [b["source"] for b in sent_blocks(fake, "image")] == [expected]

    client.responses.create(
        model="sonnet",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "And now?"},
                    {"type": "input_image", "file_id": file_id, "detail": "auto"},
                ],
            }
        ],
    )
    assert [b["source"] for b in sent_blocks(fake, "image")] == [expected]


def test_an_uploaded_pdf_reaches_claude_as_a_document(client, claude, fake):
    file_id = client.files.create(file=("brief.pdf", PDF), purpose="user_data").id
    expected = {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()}
    claude.messages.create(
        model="sonnet",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "file", "file_id": file_id}},
                    {"type": "text", "text": "Summarise it."},
                ],
            }
        ],
    )
    assert [b["source"] for b in sent_blocks(fake, "document")] == [expected]
    client.responses.create(
        model="sonnet",
        input=[
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "Again."}, {"type": "input_file", "file_id": file_id}],
            }
        ],
    )
    assert [b["source"] for b in sent_blocks(fake, "document")] == [expected]
