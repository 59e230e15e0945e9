"""The variables a Claude process is started with so that it makes no upstream call of its own and
shows Claude nothing of the gateway's host (engine/processes/folders.py), and when the operator's
own setting wins. End to end: tests/e2e/test_upstream_traffic_e2e.py."""

from __future__ import annotations

import pytest

from app.core.agent import AgentConfig
from app.core.credentials import Credential
from app.core.disk.workdir import GatewayFolder
from app.core.hosted import Hosted, WebRules
from app.core.messages import ToolSpec
from app.core.settings import Settings
from app.engine.processes.folders import BARE_VARIABLE, NO_TITLE_VARIABLE
from app.engine.processes.options import SpawnKey, SpawnOptions

FUNCTION = ToolSpec("lookup", "Look up", '{"type": "object"}')


@pytest.fixture
def options(tmp_path, monkeypatch):
    credentials = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
    for name in (*credentials, NO_TITLE_VARIABLE, BARE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "operator-config"))
    (tmp_path / "operator-config").mkdir()
    folder = GatewayFolder(tmp_path / "work")
    folder.open()
    yield lambda: SpawnOptions(Settings(_env_file=None), folder)
    folder.close()


def env_of(options, tmp_path, **key) -> dict[str, str]:
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    spawn = options().for_key(SpawnKey("sonnet", "Be brief.", None, **key), cwd, None)
    return dict(spawn.options.env)


def test_an_operators_api_key_gives_chat_processes_no_title_call_and_bare_mode(options, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-operator")
    env = env_of(options, tmp_path, tools=(FUNCTION,))
    assert env[NO_TITLE_VARIABLE] == "1" and env[BARE_VARIABLE] == "1"


def test_a_subscription_login_keeps_claude_codes_login_and_so_its_environment_block(options, tmp_path):
    (tmp_path / "operator-config" / ".credentials.json").write_text("{}")  # `claude login`
    env = env_of(options, tmp_path)
    assert env[NO_TITLE_VARIABLE] == "1" and BARE_VARIABLE not in env


@pytest.mark.parametrize(("credential", "bare"), [("api_key", True), ("oauth_token", False)])
def test_a_callers_own_credential_decides_bare_mode(options, tmp_path, credential, bare):
    env = env_of(options, tmp_path, credential=Credential(credential, "sk-ant-oat-or-key"))
    assert (BARE_VARIABLE in env) is bare and env[NO_TITLE_VARIABLE] == "1"


@pytest.mark.parametrize(
    "key",
    [
        {"hosted": Hosted(web_search=WebRules())},
        {"tools": (ToolSpec("lookup", "Look up", '{"type": "object"}', deferred=True),)},
        {"tools": (FUNCTION, ToolSpec("patch", "Applies a patch.\n\nThe input is a diff.", '{"type": "object"}'))},
        {"agent": AgentConfig()},
    ],
    ids=["web search", "tool search", "a description of paragraphs", "agent mode"],
)
def test_built_in_tools_paragraphs_and_agent_mode_keep_claude_codes_full_mode(options, tmp_path, monkeypatch, key):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-operator")
    env = env_of(options, tmp_path, **key)
    assert BARE_VARIABLE not in env and env[NO_TITLE_VARIABLE] == "1"


def test_the_operators_own_setting_wins(options, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-operator")
    monkeypatch.setenv(NO_TITLE_VARIABLE, "0")
    monkeypatch.setenv(BARE_VARIABLE, "")
    env = env_of(options, tmp_path)
    assert NO_TITLE_VARIABLE not in env and BARE_VARIABLE not in env  # the process inherits the operator's
