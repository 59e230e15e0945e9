"""Uploaded files referenced by id on the three doors reach the engine as Claude's blocks: an image
as a base64 image block, a PDF as a base64 document, text as a plain-text document; an unknown id
or another key's is a 400 in the door's envelope, never a 500. (tests/e2e/test_uploads_e2e.py: the
same through the real CLI.)"""

from __future__ import annotations

import base64

import pytest

from app.core.messages import Message
from app.sessions.images import without_image_data
from tests.support import make_client, official_clients

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 30
PDF = b"%PDF-1.4\n% a tiny pdf\n%%EOF\n"


async def uploaded(key: str = "key-a"):
    client, engine = make_client(api_keys="key-a,key-b")
    client.headers["authorization"] = f"Bearer {key}"
    oa, _ = official_clients(client)
    oa.api_key = key
    ids = {}
    for name, data in (("shot.png", PNG), ("doc.pdf", PDF), ("notes.txt", b"plain words")):
        ids[name] = (await oa.files.create(file=(name, data), purpose="user_data")).id
    return client, engine, ids


def image_block(data: bytes) -> dict:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(data).decode()},
    }


PDF_BLOCK = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()},
}


async def test_messages_image_and_document_blocks_by_file_id():
    client, engine, ids = await uploaded()
    _, an = official_clients(client)
    an.api_key = "key-a"
    content = [
        {"type": "image", "source": {"type": "file", "file_id": ids["shot.png"]}},
        {"type": "document", "source": {"type": "file", "file_id": ids["doc.pdf"]}, "title": "The doc"},
        {"type": "document", "source": {"type": "file", "file_id": ids["notes.txt"]}},
        {"type": "text", "text": "what are these?"},
    ]
    await an.messages.create(model="sonnet", max_tokens=50, messages=[{"role": "user", "content": content}])
    blocks = engine.turns[-1].prompt.content
    assert blocks[0] == image_block(PNG)
    assert blocks[1] == {**PDF_BLOCK, "title": "The doc"}
    assert blocks[2] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
    }


async def test_chat_file_parts_by_file_id():
    client, engine, ids = await uploaded()
    oa, _ = official_clients(client)
    oa.api_key = "key-a"
    content = [
        {"type": "text", "text": "look"},
        {"type": "file", "file": {"file_id": ids["shot.png"]}},
        {"type": "file", "file": {"file_id": ids["doc.pdf"]}},
    ]
    await oa.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": content}])
    blocks = engine.turns[-1].prompt.content
    assert blocks[1] == image_block(PNG)
    assert blocks[2] == {**PDF_BLOCK, "title": "doc.pdf"}


async def test_responses_input_image_and_input_file_by_file_id():
    client, engine, ids = await uploaded()
    oa, _ = official_clients(client)
    oa.api_key = "key-a"
    content = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "file_id": ids["shot.png"], "detail": "auto"},
        {"type": "input_file", "file_id": ids["doc.pdf"]},
        {"type": "input_file", "file_id": ids["notes.txt"]},
    ]
    await oa.responses.create(model="sonnet", input=[{"role": "user", "content": content}])
    blocks = engine.turns[-1].prompt.content
    assert blocks[1] == image_block(PNG)
    assert blocks[2] == {**PDF_BLOCK, "title": "doc.pdf"}
    assert blocks[3]["source"] == {"type": "text", "media_type": "text/plain", "data": "plain words"}


async def test_inline_file_data_takes_the_same_path():
    client, engine = make_client()
    data_url = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    content = [{"type": "file", "file": {"file_data": data_url, "filename": "doc.pdf"}}]
    answer = await client.post(
        "/v1/chat/completions", json={"model": "sonnet", "messages": [{"role": "user", "content": content}]}
    )
    assert answer.status_code == 200, answer.text
    assert engine.turns[-1].prompt.content[0] == {**PDF_BLOCK, "title": "doc.pdf"}


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            "/v1/chat/completions",
            lambda i: {
                "model": "sonnet",
                "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": i}}]}],
            },
            "messages[0].content[0].file.file_id",
        ),
        (
            "/v1/responses",
            lambda i: {
                "model": "sonnet",
                "input": [{"role": "user", "content": [{"type": "input_image", "file_id": i}]}],
            },
            "input[0].content[0].file_id",
        ),
        (
            "/v1/messages",
            lambda i: {
                "model": "sonnet",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": i}}]}
                ],
            },
            "messages[0].content[0].source.file_id",
        ),
        (
            "/v1/messages/count_tokens",
            lambda i: {
                "model": "sonnet",
                "messages": [
                    {"role": "user", "content": [{"type": "document", "source": {"type": "file", "file_id": i}}]}
                ],
            },
            "messages[0].content[0].source.file_id",
        ),
    ],
)
async def test_an_unknown_or_another_keys_file_id_is_400_in_the_doors_envelope(path, body, param):
    client, engine, ids = await uploaded(key="key-b")
    client.headers["authorization"] = "Bearer key-a"
    for file_id in ("file_nope", ids["shot.png"]):
        answer = await client.post(path, json=body(file_id))
        assert answer.status_code == 400, answer.text
        if path.startswith("/v1/messages"):
            assert (
                answer.json()["error"]["type"] == "invalid_request_error"
                and file_id in answer.json()["error"]["message"]
            )
        else:
            assert answer.json()["error"]["code"] == "file_not_found" and answer.json()["error"]["param"] == param
    assert engine.turns == []


async def test_a_file_of_a_type_claude_cannot_read_is_400():
    client, engine = make_client()
    oa, _ = official_clients(client)
    made = await oa.files.create(file=("a.bin", b"\x00\x01\x02"), purpose="user_data")
    content = [{"type": "file", "file": {"file_id": made.id}}]
    answer = await client.post(
        "/v1/chat/completions", json={"model": "sonnet", "messages": [{"role": "user", "content": content}]}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "unsupported_file_type"


def test_a_stateless_session_keeps_no_pdf_bytes_as_it_keeps_no_image_bytes():
    kept = without_image_data([Message("user", [image_block(PNG), PDF_BLOCK, {"type": "text", "text": "hi"}])])
    assert [b["type"] for b in kept[0].content] == ["text", "text", "text"]
    assert "application/pdf document" in kept[0].content[1]["text"]


@pytest.mark.parametrize("name", ["a.png", "a.pdf"])
async def test_a_file_only_labelled_an_image_or_pdf_never_reaches_claude_as_one(name):
    """The label (part Content-Type or name) of a text file claiming PNG or PDF is not trusted:
    only the bytes' signature makes an image or a PDF, so the turn is refused, never sent to Claude."""
    client, engine = make_client()
    oa, an = official_clients(client)
    label = "image/png" if name.endswith(".png") else "application/pdf"
    made = await oa.files.create(file=(name, b"just some text", label), purpose="user_data")
    assert (await an.beta.files.retrieve_metadata(made.id)).mime_type not in ("image/png", "application/pdf")
    content = [{"type": "file", "file": {"file_id": made.id}}]
    answer = await client.post(
        "/v1/chat/completions", json={"model": "sonnet", "messages": [{"role": "user", "content": content}]}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "unsupported_file_type"
    assert engine.turns == []


async def test_one_file_named_many_times_cannot_swell_a_request_past_claudes_limit():
    """Each reference becomes its own copy of the file: a small body naming a 1 MiB file 40 times
    would be 40 MiB of base64 in memory (thousands of times: gigabytes). Refused before the turn."""
    client, engine = make_client()
    oa, _ = official_clients(client)
    made = await oa.files.create(file=("big.txt", b"x" * (1024 * 1024)), purpose="user_data")
    part = {"type": "file", "file": {"file_id": made.id}}
    answer = await client.post(
        "/v1/chat/completions",
        json={
            "model": "sonnet",
            "messages": [{"role": "user", "content": [dict(part, file=dict(part["file"])) for _ in range(40)]}],
        },
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "request_too_large"
    assert engine.turns == []
