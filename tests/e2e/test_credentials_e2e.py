"""Each user's own Claude credential, end to end: the real CLI reaches (the fake) Anthropic with that
credential alone, whoever else is talking at the same time, on reused processes and spares too;
the operator's credential serves only turns without one; a credential sent per request is
nowhere on disk afterwards; and a refused credential is the user's coded error."""

from __future__ import annotations

import subprocess
import threading
import uuid

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import API_KEY, serve
from tests.fakes.upstream import Reply, last_user_text
from tests.support import wait_until

pytestmark = pytest.mark.e2e

ALICE = "sk-ant-api03-alice-" + uuid.uuid4().hex  # an Anthropic API key
BOB = "sk-ant-oat01-bob-" + uuid.uuid4().hex  # a subscription token from `claude setup-token`
OPERATOR = "sk-ant-fake-key"  # the test environment's (FakeAnthropic.cli_env)
CREDENTIALS = {"alice": ALICE, "bob": BOB, "operator": None}


@pytest.fixture(scope="module")
def own_gateway(upstream, cli_config_dir, tmp_path_factory):
    """A gateway that accepts credentials per request, with a spare per option set; keyless
    (loopback), so that its stats show the whole engine's spares."""
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "credentials-gateway",
        api_keys="",
        allow_request_credentials="true",
        spare_processes="1",
    )


@pytest.fixture
def fresh_gateway(upstream, cli_config_dir, tmp_path_factory):
    """The same gateway, started for one test: no spares left over by the module's other tests
    (their bursts size some option sets' spares above one, and those count in the stats too)."""
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "credentials-fresh-gateway",
        api_keys="",
        allow_request_credentials="true",
        spare_processes="1",
    )


def client(gateway, who: str) -> openai.OpenAI:
    value = CREDENTIALS[who]
    headers = {"X-Claude-Credential": value} if value else {}
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=60, default_headers=headers
    )


def carried(fake) -> dict[str, set[str]]:
    """Which credentials reached the upstream with each tagged message ("<who>/...")."""
    seen: dict[str, set[str]] = {}
    for body, credential in zip(fake.requests, fake.credentials, strict=True):
        who = last_user_text(body).split("/")[0]
        seen.setdefault(who, set()).add(credential)
    return seen


def expected(who: str) -> set[str]:
    return {CREDENTIALS[who] or OPERATOR}


def converse(gateway, who: str, name: str, turns: int, named: bool) -> None:
    """A conversation of `turns` turns: a named session, or a stateless client resending history."""
    openai_client = client(gateway, who)
    messages: list[dict] = []
    extra = {"extra_headers": {"X-Session-Id": f"{who}-{name}"}} if named else {}
    for turn in range(turns):
        asked = {"role": "user", "content": f"{who}/{name}/{turn}"}
        sent = [asked] if named else [*messages, asked]
        answer = openai_client.chat.completions.create(model="sonnet", messages=sent, **extra)
        messages += [asked, {"role": "assistant", "content": answer.choices[0].message.content}]


def test_each_turn_reaches_claude_with_its_callers_credential_alone_under_concurrency(own_gateway, fake):
    # Six conversations at once, two per credential (one named, one stateless), three turns each:
    # follow-ups run on the conversation's kept process.
    failures: list[BaseException] = []

    def run(who: str, named: bool) -> None:
        try:
            converse(own_gateway, who, "named" if named else "stateless", 3, named)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(who, named)) for who in CREDENTIALS for named in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    seen = carried(fake)
    for who in CREDENTIALS:
        assert seen[who] == expected(who), who
    assert set(fake.credentials) == {ALICE, BOB, OPERATOR}  # nothing reached Claude any other way


def pool(gateway) -> dict:
    return httpx.get(f"{gateway.url}/v1/sessions/stats", timeout=10).json()["gateway"]["processes"]


def settled(processes: dict, warmed: int) -> bool:
    return processes["spares"] >= warmed and processes["spares_starting"] == 0


def test_a_spare_of_one_credential_never_serves_another(fresh_gateway, fake):
    # A new conversation of each credential leaves a spare of its own behind; each next new
    # conversation takes a spare, and only one of its own credential. Conversations this quick
    # count as bursts, which size some credentials' spares above one: each step waits until every
    # credential seen has its spare and none is still starting (the start slots are served to the
    # credentials with the fewest spares first, engine/processes/spares.py neediest).
    hits = pool(fresh_gateway)["spare_hits"]
    order = ["operator", "alice", "bob", "operator", "bob", "alice", "alice"]
    for n, who in enumerate(order):
        converse(fresh_gateway, who, f"spare{n}", 1, named=False)
        warmed = len(set(order[: n + 1]))
        wait_until(lambda warmed=warmed: settled(pool(fresh_gateway), warmed), timeout=30)
    seen = carried(fake)
    for who in CREDENTIALS:
        assert seen[who] == expected(who), who
    assert pool(fresh_gateway)["spare_hits"] - hits >= len(order) - 3  # every conversation after the first


def test_a_credential_sent_per_request_is_nowhere_on_disk(own_gateway, fake, cli_config_dir):
    converse(own_gateway, "alice", "disk", 2, named=True)
    converse(own_gateway, "bob", "disk", 2, named=False)
    history = [
        {"role": "user", "content": "alice/history/0"},
        {"role": "assistant", "content": "an earlier answer"},
        {"role": "user", "content": "alice/history/1"},
    ]
    client(own_gateway, "alice").chat.completions.create(model="sonnet", messages=history)  # a transcript written
    assert carried(fake)["alice"] == {ALICE}
    places = [
        own_gateway.env["GATEWAY_WORK_DIR"],
        own_gateway.env["GATEWAY_DATA_DIR"],  # the store: keys, the usage ledger
        str(own_gateway.log_path.parent),
        str(cli_config_dir),
    ]
    for value in (ALICE, BOB):
        found = subprocess.run(["grep", "-rl", value, *places], capture_output=True, text=True)
        assert found.stdout == "", found.stdout


def test_a_rejected_credential_is_the_users_coded_error(own_gateway, fake):
    fake.by_credential[ALICE] = Reply(status=401, error_type="authentication_error", error_message="invalid x-api-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client(own_gateway, "alice").chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "alice/refused"}]
        )
    assert caught.value.body["code"] == "user_credential_rejected"
    assert "your own Claude credential (Anthropic API key)" in caught.value.body["message"]
    assert "gateway's" not in caught.value.body["message"] and ALICE not in caught.value.body["message"]
    # The operator's turns are not touched by it.
    answer = client(own_gateway, "operator").chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "operator/fine"}]
    )
    assert answer.choices[0].message.content == "echo: operator/fine"


def test_a_subscription_out_of_extra_usage_is_the_users_coded_429(own_gateway, fake):
    text = "Third-party apps now draw from your extra usage, not your plan limits. Enable extra usage to continue."
    fake.by_credential[BOB] = Reply(status=400, error_type="invalid_request_error", error_message=text)
    claude = anthropic.Anthropic(
        base_url=own_gateway.url, api_key=API_KEY, max_retries=0, default_headers={"X-Claude-Credential": BOB}
    )
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "bob/quota"}])
    message = caught.value.body["error"]["message"]
    assert "your own Claude credential (Claude subscription token)" in message and text in message
    assert "gateway's" not in message and "ANTHROPIC_API_KEY" not in message
    with pytest.raises(openai.RateLimitError) as refused:
        client(own_gateway, "bob").chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "bob/quota"}]
        )
    assert refused.value.body["code"] == "user_credential_quota"


def test_a_gateway_that_does_not_allow_credentials_refuses_them(gateway, fake):
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": "user", "content": "alice/no"}]},
        headers={"Authorization": f"Bearer {API_KEY}", "X-Claude-Credential": ALICE},
        timeout=60,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "request_credentials_not_allowed"
    assert fake.requests == [] and ALICE not in response.text


@pytest.fixture(scope="module")
def hosted(upstream, cli_config_dir, tmp_path_factory):
    """A gateway with an admin key and a secret for the credentials stored with keys."""
    yield from serve(
        upstream,
        cli_config_dir,
        tmp_path_factory,
        "hosted-credentials",
        admin_key="admin-" + uuid.uuid4().hex,
        secret_key="secret-" + uuid.uuid4().hex,
    )


def test_a_keys_stored_credential_serves_its_turns_alone(hosted, fake):
    admin = {"Authorization": f"Bearer {hosted.env['GATEWAY_ADMIN_KEY']}"}

    def new_key(name: str, **policy) -> str:
        created = httpx.post(f"{hosted.url}/admin/keys", json={"name": name, **policy}, headers=admin, timeout=10)
        assert created.status_code == 201, created.text
        return created.json()["key"]

    keys = {
        "alice": new_key("alice", claude_credential={"type": "api_key", "value": ALICE}),
        "operator": new_key("no credential of its own"),
    }
    for turn in range(2):  # the second on the kept process
        for who, key in keys.items():
            openai.OpenAI(base_url=f"{hosted.url}/v1", api_key=key, max_retries=0, timeout=60).chat.completions.create(
                model="sonnet",
                messages=[{"role": "user", "content": f"{who}/stored/{turn}"}],
                extra_headers={"X-Session-Id": who},
            )
    seen = carried(fake)
    assert seen["alice"] == {ALICE} and seen["operator"] == {OPERATOR}
    # A key may not send another credential per request unless its policy allows it.
    refused = httpx.post(
        f"{hosted.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": f"Bearer {keys['operator']}", "X-Claude-Credential": BOB},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "request_credentials_not_allowed"
    allowed = new_key("bob", request_credentials=True)
    openai.OpenAI(
        base_url=f"{hosted.url}/v1",
        api_key=allowed,
        max_retries=0,
        timeout=60,
        default_headers={"X-Claude-Credential": BOB},
    ).chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "bob/per-request"}])
    assert carried(fake)["bob"] == {BOB}
