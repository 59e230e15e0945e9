"""The console's server side on the real engine with the fake CLI: the page and its two files under a
strict Content-Security-Policy, GET /v1/me, what the admin key sees (the whole pool in
/v1/sessions/stats, every tenant's sessions, the latest failed turns), and the keyless guard still
in front of the page. The page itself is driven in a real browser in tests/e2e/test_console_e2e.py."""

from __future__ import annotations

import re

from app.http.routes.console import FILES
from tests.support import ask

ADMIN = {"Authorization": "Bearer admin-secret-0123456789abcdef-0123456789"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_page_and_its_files_are_served_under_a_strict_policy(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    page = await client.get("/console")  # public: it holds no data, the APIs it calls need a key
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        served = await client.get(f"/console/{name}")
        assert served.status_code == 200 and served.headers["content-type"].startswith(kind)
        assert served.content == (FILES / name).read_bytes()
    for name in ("index.py", "..%2Fconsole.py", "%2E%2E%2Fapi%2Fconsole.py"):
        missing = await client.get(f"/console/{name}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_page_runs_no_inline_code_and_inserts_no_html():
    """What the policy would refuse anyway, kept out of the files so the page works under it: no
    inline script, style or event handler; and the script never parses data as HTML."""
    html = (FILES / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/console/console.js" defer>']
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)
    assert not re.search(r"https?://", html.replace("http://www.w3.org", ""))  # nothing from elsewhere
    script = (FILES / "console.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", script)


async def test_me_names_the_admin_a_managed_key_an_unmanaged_key_or_nobody(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789", api_keys="plain-key")
    assert (await client.get("/v1/me", headers=ADMIN)).json() == {
        "object": "caller",
        "admin": True,
        "keyless": False,
        "tenant": None,
        "key": None,
    }
    created = (await client.post("/admin/keys", json={"name": "ann", "rpm": 5}, headers=ADMIN)).json()
    me = (await client.get("/v1/me", headers=bearer(created["key"]))).json()
    assert (me["admin"], me["tenant"]) == (False, f"key-{created['id']}")
    assert me["key"] == {"id": created["id"], "name": "ann", "policy": created["policy"]}  # no secret in it
    assert created["key"] not in str(me)
    plain = (await client.get("/v1/me", headers=bearer("plain-key"))).json()
    assert (plain["admin"], plain["key"], plain["tenant"].startswith("key-")) == (False, None, True)
    refused = await client.get("/v1/me", headers=bearer("sk-gw-unknown"))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"

    keyless, _, _ = await gateway()
    assert (await keyless.get("/v1/me")).json()["keyless"] is True


async def test_the_admin_sees_the_whole_pool_and_every_session_a_key_only_its_own(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    ann, bob = [
        (await client.post("/admin/keys", json={"name": name}, headers=ADMIN)).json() for name in ("ann", "bob")
    ]
    for key in (ann, bob):
        turn = await client.post("/v1/chat/completions", json=ask("hi", session_id="s1"), headers=bearer(key["key"]))
        assert turn.status_code == 200, turn.text

    whole = (await client.get("/v1/sessions/stats", headers=ADMIN)).json()
    assert whole["sessions"] == 2 and whole["gateway"]["conversations"] == 2
    assert {"live", "max_live", "spares", "memory_in_use_mib"} <= set(whole["gateway"]["processes"])
    own = (await client.get("/v1/sessions/stats", headers=bearer(ann["key"]))).json()
    assert own["sessions"] == 1 and own["gateway"]["conversations"] == 1 and "spares" not in own["gateway"]["processes"]

    listed = (await client.get("/admin/sessions", headers=ADMIN)).json()["data"]
    assert sorted((s["tenant"], s["id"]) for s in listed) == sorted((key["tenant"], "s1") for key in (ann, bob))
    assert (await client.get("/admin/sessions", headers=bearer(ann["key"]))).status_code == 401
    # The admin key looks; it has no sessions of its own and runs no turn.
    assert (await client.get("/v1/sessions", headers=ADMIN)).status_code == 401
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=ADMIN)).status_code == 401


async def test_the_admin_sees_whose_claude_credential_a_key_only_that_there_is_one(gateway, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    operator = await client.get("/v1/auth/status", headers=ADMIN)
    assert operator.json()["claude_code"]["account"] and "sk-ant-secret" not in operator.text
    ann = (await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()
    tenant = (await client.get("/v1/auth/status", headers=bearer(ann["key"]))).json()
    assert "account" not in tenant["claude_code"]


async def test_the_latest_failed_turns_are_listed_for_the_admin(gateway):
    client, _, _ = await gateway(admin_key="admin-secret-0123456789abcdef-0123456789")
    ann = (await client.post("/admin/keys", json={"name": "ann"}, headers=ADMIN)).json()
    key = bearer(ann["key"])
    assert (await client.post("/v1/chat/completions", json=ask("hi"), headers=key)).status_code == 200
    crashed = await client.post("/v1/chat/completions", json=ask("[[crash]]", session_id="c"), headers=key)
    assert crashed.status_code >= 500

    errors = (await client.get("/admin/errors", headers=ADMIN)).json()["data"]
    assert [(e["key_id"], e["session_id"], e["status"], e["door"]) for e in errors] == [
        (ann["id"], "c", "error", "chat")
    ]
    assert errors[0]["error"] == crashed.json()["error"]["code"]  # why it failed, as the client was told
    assert (await client.get("/admin/errors", headers=key)).status_code == 401
    for bad in ("0", "201", "x"):
        refused = await client.get(f"/admin/errors?limit={bad}", headers=ADMIN)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "limit"


async def test_the_keyless_guard_still_stands_in_front_of_the_console(gateway):
    client, _, _ = await gateway()
    assert (await client.get("/console")).status_code == 200  # this machine's own browser
    for headers in ({"Host": "evil.example"}, {"Host": "127.0.0.1.nip.io"}, {"Origin": "https://evil.example"}):
        refused = await client.get("/console", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "keyless_gateway"
        assert (await client.get("/v1/me", headers=headers)).status_code == 403
