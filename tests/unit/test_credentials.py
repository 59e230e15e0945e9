"""A caller's own Claude credential: how it is written, what it never shows, and what keeps its
processes apart from everyone else's (the spawn key, the environment, the config folder)."""

from __future__ import annotations

import os
import stat

import pytest

from app.core.credentials import Credential, is_operator_credential, parse
from app.core.disk.workdir import GatewayFolder
from app.core.messages import Message
from app.core.settings import Settings
from app.core.turn import Turn
from app.engine.processes.options import SpawnKey, SpawnOptions
from app.engine.reading.failures import FailedTurn, turn_error
from app.engine.wrapper_script import UNSET_VARIABLE

API_KEY = "sk-ant-api03-SECRET-user-key"
TOKEN = "sk-ant-oat01-SECRET-user-token"


@pytest.mark.parametrize(
    "header, expected",
    [
        (f"api_key:{API_KEY}", Credential("api_key", API_KEY)),
        (f"oauth_token:{TOKEN}", Credential("oauth_token", TOKEN)),
        (API_KEY, Credential("api_key", API_KEY)),  # the type from the prefix
        (TOKEN, Credential("oauth_token", TOKEN)),
        (f"  api_key: {API_KEY} ", Credential("api_key", API_KEY)),
        ("api_key:proxy-key-of-another-shape", Credential("api_key", "proxy-key-of-another-shape")),
    ],
)
def test_a_credential_is_written_type_colon_value_or_its_prefix_tells_the_type(header, expected):
    assert parse(header) == expected


@pytest.mark.parametrize(
    "header, complaint",
    [
        ("", "empty"),
        ("api_key:", "empty"),
        ("SECRET-of-no-known-shape", "type is not known"),
        ("bearer:SECRET", "type is not known"),
        ("api_key:SECRET with spaces", "printable ASCII"),
        ("api_key:SECRET\x00", "printable ASCII"),
        ("api_key:SECRÉT", "printable ASCII"),
        ("api_key:" + "S" * 5000, "at most"),
        (f"api_key:{TOKEN}", "looks like an oauth_token"),
        (f"oauth_token:{API_KEY}", "looks like an api_key"),
    ],
)
def test_a_malformed_credential_is_refused_without_quoting_it(header, complaint):
    with pytest.raises(ValueError) as caught:
        parse(header)
    assert complaint in str(caught.value)
    assert "SECRET" not in str(caught.value) and "SECRÉT" not in str(caught.value)


def test_the_value_never_shows_in_a_repr():
    credential = Credential("api_key", API_KEY)
    turn = Turn("sonnet", [Message("user", [{"type": "text", "text": "hi"}])], credential=credential)
    for shown in (repr(credential), str(credential), repr(turn), repr(SpawnKey.of(turn))):
        assert "SECRET" not in shown
    assert "SECRET" not in credential.id and len(credential.id) == 32


def test_the_id_names_one_credential():
    assert Credential("api_key", API_KEY).id == Credential("api_key", API_KEY).id
    assert Credential("api_key", API_KEY).id != Credential("api_key", API_KEY + "x").id
    assert Credential("api_key", "same").id != Credential("oauth_token", "same").id


def test_the_spawn_key_keeps_credentials_apart_for_spares_too():
    def key(credential: Credential | None) -> SpawnKey:
        return SpawnKey.of(Turn("sonnet", [Message("user", [])], system="s", credential=credential))

    a, b = Credential("api_key", "sk-ant-api03-a"), Credential("api_key", "sk-ant-api03-b")
    keys = [key(a), key(b), key(None)]
    assert len(set(keys)) == 3
    assert len({k.for_spares() for k in keys}) == 3  # a spare of one credential never serves another
    assert key(a).for_spares() == key(Credential("api_key", "sk-ant-api03-a")).for_spares()


@pytest.mark.parametrize(
    "name",
    [
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_REFRESH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
        "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
        "ANTHROPIC_CUSTOM_HEADERS",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
        "CLAUDE_CODE_USE_FOUNDRY",
        "ANTHROPIC_FOUNDRY_API_KEY",
        "CLAUDE_CODE_CLIENT_KEY",
        "CLAUDE_CODE_SESSION_ACCESS_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_BEARER_TOKEN_BEDROCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUD_ML_REGION",
        "VERTEX_REGION_CLAUDE_4_0_SONNET",
    ],
)
def test_the_operators_credential_variables_are_recognised(name):
    assert is_operator_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL",
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
        "CLAUDE_CODE_MAX_RETRIES",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        "DISABLE_TELEMETRY",
        "HTTPS_PROXY",
        "PATH",
    ],
)
def test_settings_that_carry_no_credential_are_kept(name):
    assert not is_operator_credential(name)


@pytest.fixture
def spawn_options(tmp_path, monkeypatch):
    for name, value in {
        "ANTHROPIC_API_KEY": "sk-ant-api03-OPERATOR",
        "ANTHROPIC_AUTH_TOKEN": "OPERATOR-bearer",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_SECRET_ACCESS_KEY": "OPERATOR-aws",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "CLAUDE_CONFIG_DIR": str(tmp_path / "operator-config"),
    }.items():
        monkeypatch.setenv(name, value)
    folder = GatewayFolder(tmp_path / "work")
    folder.open()
    yield SpawnOptions(Settings(_env_file=None), folder)
    folder.close()


def test_a_users_process_gets_their_credential_and_nothing_of_the_operators(spawn_options, tmp_path):
    env = spawn_options.cli_env(Credential("oauth_token", TOKEN))
    process_env = {**os.environ, **env}  # as the SDK merges them
    process_env = {k: v for k, v in process_env.items() if k not in env[UNSET_VARIABLE].split()}  # the launcher
    assert process_env["CLAUDE_CODE_OAUTH_TOKEN"] == TOKEN
    assert "OPERATOR" not in " ".join(process_env.values())
    assert {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK"}.isdisjoint(process_env)
    assert process_env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"  # where Claude is: the operator's choice
    config = process_env["CLAUDE_CONFIG_DIR"]
    assert config.startswith(str(spawn_options.work.path)) and not config.startswith(str(tmp_path / "operator"))
    assert stat.S_IMODE(os.lstat(config).st_mode) == 0o700


def test_each_credential_has_a_config_folder_of_its_own(spawn_options):
    a, b = Credential("api_key", "sk-ant-api03-a"), Credential("api_key", "sk-ant-api03-b")
    folders = {spawn_options.config_dir(a), spawn_options.config_dir(b), spawn_options.config_dir(None)}
    assert len(folders) == 3
    assert spawn_options.config_dir(a) == spawn_options.config_dir(Credential("api_key", "sk-ant-api03-a"))
    assert spawn_options.cli_env(Credential("api_key", "sk-ant-api03-a"))["ANTHROPIC_API_KEY"] == "sk-ant-api03-a"


def test_the_operators_own_turns_keep_the_operators_environment(spawn_options):
    assert UNSET_VARIABLE not in spawn_options.cli_env(None)
    assert spawn_options.config_dir(None) == Settings(_env_file=None).config_dir


@pytest.mark.parametrize(
    "failure, status, code",
    [
        (
            FailedTurn("Failed to authenticate. API Error: 401 invalid x-api-key", "authentication_failed", 401),
            401,
            "user_credential_rejected",
        ),
        (
            FailedTurn("Not logged in · Please run /login", "authentication_failed", None),
            401,
            "user_credential_rejected",
        ),
        (
            FailedTurn("Third-party apps now draw from your extra usage, not your plan limits.", None, 400),
            429,
            "user_credential_quota",
        ),
        (
            FailedTurn("API Error: 429 Your Agent SDK credit for this month is used up.", "rate_limit", 429),
            429,
            "user_credential_quota",
        ),
        (
            FailedTurn("API Error: 400 Your credit balance is too low to access the Anthropic API.", None, 400),
            429,
            "user_credential_quota",
        ),
    ],
)
def test_a_refusal_of_the_users_own_credential_names_theirs_never_the_operators(failure, status, code):
    error = turn_error(failure, 9)
    assert error.code in ("upstream_auth_failed", "claude_credentials_missing", "insufficient_quota")
    mine = error.for_user(Credential("oauth_token", TOKEN))  # type: ignore[attr-defined]
    assert (mine.status, mine.code) == (status, code)
    assert "your own Claude credential (Claude subscription token)" in mine.message
    for operator_words in ("gateway's", "ANTHROPIC_API_KEY", "claude login", "CLAUDE_CODE_OAUTH_TOKEN", "SECRET"):
        assert operator_words not in mine.message
