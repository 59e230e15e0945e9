"""The Files API (/v1/files) with the official clients in both shapes: OpenAI's `client.files` and
Anthropic's `client.beta.files`; one tenant's files apart from another's; the size limit and quota;
bad uploads answered 4xx in the caller's envelope. Storage on Redis: tests/unit/test_files_store.py
and test_a_file_uploaded_through_one_replica_is_read_through_another below."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.support import make_client, official_clients

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
KEYS = "key-a,key-b"


def clients(key: str = "key-a", **settings):
    client, _ = make_client(api_keys=KEYS, **settings)
    client.headers["authorization"] = f"Bearer {key}"
    oa, an = official_clients(client)
    oa.api_key, an.api_key = key, key
    return client, oa, an


async def test_the_openai_client_uploads_lists_retrieves_downloads_and_deletes(tmp_path):
    _, oa, _ = clients(data_dir=str(tmp_path))
    made = await oa.files.create(file=("shot.png", PNG, "image/png"), purpose="vision")
    assert made.object == "file" and made.bytes == len(PNG) and made.purpose == "vision" and made.filename == "shot.png"
    batch = await oa.files.create(file=("in.jsonl", b'{"a": 1}\n'), purpose="batch")
    assert (await oa.files.retrieve(made.id)).model_dump() == made.model_dump()
    assert [f.id async for f in oa.files.list()] == [batch.id, made.id]
    assert [f.id async for f in oa.files.list(purpose="batch")] == [batch.id]
    page = await oa.files.list(limit=1)
    assert [f.id for f in page.data] == [batch.id] and page.has_more
    assert [f.id for f in (await page.get_next_page()).data] == [made.id]
    assert (await oa.files.content(made.id)).content == PNG
    deleted = await oa.files.delete(made.id)
    assert deleted.deleted and deleted.id == made.id
    with pytest.raises(openai.NotFoundError) as gone:
        await oa.files.retrieve(made.id)
    assert gone.value.body["code"] == "file_not_found"


async def test_the_anthropic_client_uploads_lists_downloads_and_deletes(tmp_path):
    _, _, an = clients(data_dir=str(tmp_path))
    made = await an.beta.files.upload(file=("doc.pdf", b"%PDF-1.4 tiny", "application/pdf"))
    assert made.type == "file" and made.mime_type == "application/pdf" and made.size_bytes == 13
    assert made.filename == "doc.pdf" and made.created_at.tzinfo is not None and made.downloadable
    other = await an.beta.files.upload(file=("../notes/a.txt", b"hello", "text/plain"))
    assert other.filename == "a.txt" and other.mime_type == "text/plain"
    assert (await an.beta.files.retrieve_metadata(made.id)).model_dump() == made.model_dump()
    assert [f.id async for f in an.beta.files.list(limit=1)] == [other.id, made.id]  # page by page
    assert await (await an.beta.files.download(made.id)).read() == b"%PDF-1.4 tiny"
    deleted = await an.beta.files.delete(made.id)
    assert deleted.id == made.id and deleted.type == "file_deleted"
    with pytest.raises(anthropic.NotFoundError) as gone:
        await an.beta.files.retrieve_metadata(made.id)
    assert gone.value.body["type"] == "error" and gone.value.body["error"]["type"] == "not_found_error"


async def test_anthropic_cursors_after_id_and_before_id(tmp_path):
    client, _, an = clients(data_dir=str(tmp_path))
    ids = [(await an.beta.files.upload(file=(f"{n}.txt", b"x", "text/plain"))).id for n in range(3)][::-1]
    headers = {"anthropic-version": "2023-06-01"}
    first = (await client.get("/v1/files", params={"limit": 2}, headers=headers)).json()
    assert [f["id"] for f in first["data"]] == ids[:2] and first["has_more"]
    assert first["first_id"] == ids[0] and first["last_id"] == ids[1]
    after = (await client.get("/v1/files", params={"after_id": ids[1]}, headers=headers)).json()
    assert [f["id"] for f in after["data"]] == ids[2:] and not after["has_more"]
    before = (await client.get("/v1/files", params={"before_id": ids[2], "limit": 1}, headers=headers)).json()
    assert [f["id"] for f in before["data"]] == [ids[1]] and before["has_more"]


async def test_a_tenant_never_sees_another_tenants_files(tmp_path):
    client, oa, an = clients(data_dir=str(tmp_path))
    mine = await oa.files.create(file=("a.txt", b"secret"), purpose="user_data")
    client.headers["authorization"] = "Bearer key-b"
    oa.api_key = an.api_key = "key-b"
    assert [f async for f in oa.files.list()] == [] and [f async for f in an.beta.files.list()] == []
    for call in (oa.files.retrieve, oa.files.content, oa.files.delete):
        with pytest.raises(openai.NotFoundError):
            await call(mine.id)
    with pytest.raises(anthropic.NotFoundError):
        await an.beta.files.download(mine.id)
    client.headers["authorization"] = "Bearer key-a"
    assert (await client.get(f"/v1/files/{mine.id}/content")).content == b"secret"


async def test_a_file_over_the_size_limit_is_413_in_the_callers_envelope(tmp_path):
    client, oa, an = clients(data_dir=str(tmp_path), file_max_mb=1)
    big = b"x" * (1024 * 1024 + 1)
    with pytest.raises(openai.APIStatusError) as refused:
        await oa.files.create(file=("big.txt", big), purpose="user_data")
    assert refused.value.status_code == 413 and refused.value.body["code"] == "file_too_large"
    with pytest.raises(anthropic.APIStatusError) as refused_too:
        await an.beta.files.upload(file=("big.txt", big, "text/plain"))
    assert refused_too.value.status_code == 413
    assert refused_too.value.body["error"]["type"] == "request_too_large"
    huge = await client.post(
        "/v1/files", files={"file": ("h.txt", b"x" * (3 * 1024 * 1024))}, data={"purpose": "user_data"}
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "file_too_large"
    assert [f async for f in oa.files.list()] == []


async def test_uploads_past_the_quota_are_413_until_a_file_is_deleted(tmp_path):
    _, oa, _ = clients(data_dir=str(tmp_path), file_max_mb=1, files_quota_mb=2)
    one = b"x" * (1024 * 1024 - 100)
    first = await oa.files.create(file=("1.txt", one), purpose="user_data")
    await oa.files.create(file=("2.txt", one), purpose="user_data")
    with pytest.raises(openai.APIStatusError) as refused:
        await oa.files.create(file=("3.txt", one), purpose="user_data")
    assert refused.value.status_code == 413 and refused.value.body["code"] == "files_quota_exceeded"
    _, other, _ = clients(key="key-b", data_dir=str(tmp_path), file_max_mb=1, files_quota_mb=2)
    await other.files.create(file=("3.txt", one), purpose="user_data")  # another key's quota is its own
    await oa.files.delete(first.id)
    await oa.files.create(file=("3.txt", one), purpose="user_data")


@pytest.mark.parametrize(
    ("send", "code"),
    [
        ({"data": {"purpose": "batch"}, "files": {"other": ("a.txt", b"x")}}, "missing_file"),
        ({"files": {"file": ("a.txt", b"x")}}, "invalid_value"),
        ({"data": {"purpose": "sorcery"}, "files": {"file": ("a.txt", b"x")}}, "invalid_value"),
        ({"json": {"file": "a.txt", "purpose": "batch"}}, "invalid_content_type"),
        ({"content": b"--b\r\nnot a part", "headers": {"content-type": "multipart/form-data"}}, "invalid_multipart"),
        (
            {"data": {"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "5"}},
            "invalid_value",
        ),
    ],
)
async def test_bad_uploads_are_400_in_the_openai_envelope(tmp_path, send, code):
    client, _, _ = clients(data_dir=str(tmp_path))
    if "expires_after[seconds]" in send.get("data", {}):
        send = {**send, "files": {"file": ("a.txt", b"x")}}
    answer = await client.post("/v1/files", **send)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code


async def test_bad_requests_are_4xx_in_the_anthropic_envelope(tmp_path):
    client, _, _ = clients(data_dir=str(tmp_path))
    headers = {"anthropic-version": "2023-06-01"}
    for answer in (
        await client.post("/v1/files", data={"x": "1"}, files={"other": ("a", b"x")}, headers=headers),
        await client.get("/v1/files", params={"limit": "0"}, headers=headers),
        await client.get("/v1/files/file_nope", headers=headers),
        await client.get("/v1/files", headers={**headers, "authorization": "Bearer wrong"}),
    ):
        assert 400 <= answer.status_code < 500 and answer.json()["type"] == "error", answer.text


async def test_a_file_expires_when_asked(tmp_path):
    client, oa, an = clients(data_dir=str(tmp_path))
    made = await oa.files.create(
        file=("a.txt", b"x"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert made.expires_at == made.created_at + 3600
    meta = await an.beta.files.upload(file=("b.txt", b"y", "text/plain"), expires_in_seconds=7200)
    assert meta.expires_at is not None and (meta.expires_at - meta.created_at).total_seconds() == pytest.approx(7200)


async def test_a_file_uploaded_through_one_replica_is_read_through_another(tmp_path, redis_url):
    one, oa, _ = clients(data_dir=str(tmp_path / "a"), redis_url=redis_url)
    two, _, an = clients(data_dir=str(tmp_path / "b"), redis_url=redis_url)
    made = await oa.files.create(file=("shot.png", PNG), purpose="vision")
    assert (await an.beta.files.retrieve_metadata(made.id)).mime_type == "image/png"
    assert await (await an.beta.files.download(made.id)).read() == PNG
    assert (await two.delete(f"/v1/files/{made.id}")).json()["deleted"]
    assert (await one.get(f"/v1/files/{made.id}")).status_code == 404


def test_uploads_are_in_the_openapi_document():
    client, _ = make_client()
    app = client._transport.app  # type: ignore[attr-defined]
    paths = app.openapi()["paths"]
    assert {"post", "get"} <= set(paths["/v1/files"]) and "delete" in paths["/v1/files/{file_id}"]


async def test_a_part_content_type_that_is_no_media_type_is_not_kept(tmp_path):
    """A part's Content-Type with control characters would be shown as the file's mime_type and
    sent back as the download's Content-Type: the name's guess stands in for it."""
    client, _, an = clients(data_dir=str(tmp_path))
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/html\x01\x7f x\r\n\r\nhello\r\n--B--\r\n"
    )
    answer = await client.post(
        "/v1/files", content=body, headers={"content-type": "multipart/form-data; boundary=B", "anthropic-version": "1"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["mime_type"] == "text/plain"
    download = await client.get(f"/v1/files/{answer.json()['id']}/content")
    assert download.headers["content-type"].startswith("text/plain")


async def test_a_downloaded_file_is_never_a_page_of_the_gateways_origin(tmp_path):
    """An uploaded HTML file served back with its own type could script the console (same origin),
    as a workspace's file could: the same headers as its download (app/http/routes/workspace_files.py)."""
    client, oa, _ = clients(data_dir=str(tmp_path))
    made = await oa.files.create(file=("x.html", b"<script>alert(1)</script>", "text/html"), purpose="user_data")
    download = await client.get(f"/v1/files/{made.id}/content")
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox"
