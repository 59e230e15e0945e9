"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python;
no browser download), on a real gateway with the real CLI and the fake upstream.

The admin signs in, creates a key (shown once), changes its limits; a client sends a turn with that
key (the official openai client); the admin sees it in the usage chart (the bar's value is the
tokens the client was told), in the sessions list and the process figures. The key's owner signs in,
sees the session and reads its conversation, chats in the playground (streamed, continuing one
session), and deletes a session. The admin revokes the key, and the key gets a 401. No page raises
a Content-Security-Policy violation or a script error on the way.

With CONSOLE_SCREENSHOTS=1 the test writes docs/console-admin.png and docs/console-user.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.test_hosted_tools_e2e import search_then_cite
from tests.support import GatewayServer, wait_until

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN_KEY = "e2e-console-admin-0123456789abcdef"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: poetry install")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)"
    ),
]


@pytest.fixture
def console(upstream, cli_config_dir, tmp_path):
    env = {**upstream.cli_env(str(cli_config_dir)), "GATEWAY_ADMIN_KEY": ADMIN_KEY}
    server = GatewayServer(env, tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def open_console(browser, url: str, key: str, problems: list[str]):
    """A new tab (its own sessionStorage) signed in with `key`; script errors and CSP reports go
    into `problems`, confirmation dialogs are accepted."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/console")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    return page


def screenshot(page, name: str) -> None:
    if os.environ.get("CONSOLE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def text_of(content) -> str:
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_admin_and_user_in_a_real_browser(console, browser, fake):
    problems: list[str] = []
    expect = sync_api.expect
    expect.set_options(timeout=30_000)  # the default 5 s is short on a loaded machine (parallel workers)
    admin = open_console(browser, console.url, ADMIN_KEY, problems)
    expect(admin.locator("#admin")).to_be_visible()
    expect(admin.locator("#who")).to_have_text("admin")

    # A key, created in the page and shown once.
    admin.fill("#f-name", "ann")
    admin.fill("#f-models", "sonnet")
    admin.fill("#f-rpm", "30")
    admin.click("#key-submit")
    expect(admin.locator("#new-key")).to_be_visible()
    key = admin.locator("#new-key-value").text_content() or ""
    assert key.startswith("sk-gw-")
    row = admin.locator("#keys tbody tr", has_text="ann")
    expect(row).to_contain_text("sonnet")
    key_id = row.locator("button.edit").get_attribute("data-id")

    # Whatever a key is called is shown as text, never run as markup.
    hostile = '<img src=x onerror="window.pwned=1">'
    admin_headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    other = httpx.post(f"{console.url}/admin/keys", json={"name": hostile}, headers=admin_headers).json()
    admin.click("#refresh")
    expect(admin.locator("#keys tbody tr", has_text=hostile)).to_have_count(1)
    assert admin.evaluate("window.pwned") is None and admin.locator("#keys img").count() == 0
    httpx.delete(f"{console.url}/admin/keys/{other['id']}", headers=admin_headers)

    # Its limits changed in the page (PATCH).
    row.locator("button.edit").click()
    admin.fill("#f-rpm", "60")
    admin.fill("#f-budget_usd", "5")
    admin.click("#key-submit")
    expect(row.locator("td").nth(3)).to_have_text("60")
    policy = httpx.get(f"{console.url}/admin/keys/{key_id}", headers=admin_headers)
    assert (policy.json()["policy"]["rpm"], policy.json()["policy"]["budget_usd"]) == (60, 5.0)

    # A turn with that key, from the official client.
    client = openai.OpenAI(base_url=f"{console.url}/v1", api_key=key, max_retries=0, timeout=60)
    answer = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "hello console"}],
        extra_body={"session_id": "e2e-console"},
    )
    assert answer.choices[0].message.content == "echo: hello console"
    told = answer.usage.total_tokens

    # The admin sees it: usage by key (the bar is what the client was told), model and day, the
    # session under the key's name, the whole pool's processes.
    admin.click("#refresh")
    bar = admin.locator(f'#chart-key g.bar[data-label="ann ({key_id})"]')
    expect(bar).to_have_attribute("data-value", str(told))
    expect(admin.locator("#chart-model g.bar")).to_have_count(1)
    expect(admin.locator("#chart-day g.bar")).to_have_count(1)
    session_row = admin.locator("#all-sessions tbody tr", has_text="e2e-console")
    expect(session_row).to_contain_text(f"ann ({key_id})")
    expect(admin.locator("#processes")).to_contain_text("live")
    admin.select_option("#metric", "requests")
    expect(bar).to_have_attribute("data-value", "1")
    admin.select_option("#metric", "total_tokens")

    # A web search of the key's (allowed it first): the usage line names it, a chart shows it.
    allowed = httpx.patch(
        f"{console.url}/admin/keys/{key_id}", json={"hosted_tools": ["web_search"]}, headers=admin_headers
    )
    assert allowed.status_code == 200, allowed.text
    search_then_cite(fake)
    searched = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "news?"}], web_search_options={}
    )
    assert searched.choices[0].message.annotations
    admin.click("#refresh")
    expect(admin.locator("#admin-usage-total")).to_contain_text(" tokens, 1 web search, $")
    admin.select_option("#metric", "web_search_requests")
    expect(bar).to_have_attribute("data-value", "1")
    admin.select_option("#metric", "total_tokens")
    screenshot(admin, "console-admin.png")

    # The key's owner: their session and its conversation, the playground (streamed, one session).
    user = open_console(browser, console.url, key, problems)
    expect(user.locator("#user")).to_be_visible()
    expect(user.locator("#who")).to_have_text("ann")
    expect(user.locator("#chart-my-model g.bar")).to_have_count(1)
    user.locator("#sessions tbody tr", has_text="e2e-console").locator("button.view").click()
    expect(user.locator("#messages li.user")).to_have_text("userhello console")
    expect(user.locator("#messages li.assistant")).to_have_text("assistantecho: hello console")
    playground = user.locator("#chat-session").input_value()
    for text in ("first from the page", "second from the page"):
        user.fill("#chat-input", text)
        user.click("#chat-send")
        expect(user.locator("#chat-log li.assistant pre").last).to_have_text(f"echo: {text}")
        expect(user.locator("#chat-log pre.streaming")).to_have_count(0)
    kept = httpx.get(f"{console.url}/v1/sessions/{playground}", headers={"Authorization": f"Bearer {key}"}).json()
    assert [text_of(m["content"]) for m in kept["messages"]] == [
        "first from the page",
        "echo: first from the page",
        "second from the page",
        "echo: second from the page",
    ]
    expect(user.locator("#sessions tbody tr", has_text=playground).locator("td").nth(2)).to_have_text("2")  # turns
    screenshot(user, "console-user.png")
    user.locator("#sessions tbody tr", has_text="e2e-console").locator("button.delete").click()
    expect(user.locator("#sessions tbody tr", has_text="e2e-console")).to_have_count(0)
    with pytest.raises(openai.NotFoundError):
        client.with_options(max_retries=0).get("/sessions/e2e-console", cast_to=object)

    # A batch of the key's, with its progress.
    auth = {"Authorization": f"Bearer {key}"}
    params = {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": "batched"}]}
    body = {"requests": [{"custom_id": "c1", "params": params}]}
    batch = httpx.post(f"{console.url}/v1/messages/batches", json=body, headers=auth).json()
    batch_url = f"{console.url}/v1/messages/batches/{batch['id']}"
    assert wait_until(lambda: httpx.get(batch_url, headers=auth).json()["processing_status"] == "ended", timeout=60)
    user.click("#refresh")
    batch_row = user.locator("#batches tbody tr", has_text=batch["id"])
    expect(batch_row.locator("td").nth(2)).to_have_text("ended")
    expect(batch_row.locator("td").nth(3)).to_have_text("1/1")

    # Revoked in the page: the key's next request is a 401.
    admin.click("#refresh")
    admin.locator(f'#keys button.revoke[data-id="{key_id}"]').click()
    expect(admin.locator("#keys tbody tr", has_text="ann")).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "still there?"}])
    assert problems == []
