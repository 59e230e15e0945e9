"""Demo mode's parts: the demo upstream's canned answers, the environment it leaves the CLI (none
of the operator's Claude variables), and the settings that keep the operator's login and .env out."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import Settings
from app.demo.mode import enter_demo
from app.demo.upstream import API_KEY, demo_reply
from app.engine.transcripts.local import CONTINUE_AFTER_TOOLS

WEATHER = {
    "name": "mcp__client__get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}, "days": {"type": "integer"}},
        "required": ["city", "unit"],
    },
}


def user(*blocks):
    return {"role": "user", "content": list(blocks)}


def text(value: str):
    return {"type": "text", "text": value}


def test_a_prompt_is_echoed_with_the_demo_label_without_the_cli_reminders():
    body = {"messages": [user(text("<system-reminder>x</system-reminder>"), text("Hello"))]}
    assert demo_reply(body).text == "[demo] You said: Hello"


def test_a_prompt_naming_an_offered_tool_calls_it_with_placeholder_arguments():
    reply = demo_reply({"messages": [user(text("Please call get_weather now"))], "tools": [WEATHER]})
    assert reply.tool_uses == [{"name": "mcp__client__get_weather", "input": {"city": "demo", "unit": "C"}}]
    not_named = demo_reply({"messages": [user(text("What is the weather?"))], "tools": [WEATHER]})
    assert not_named.tool_uses == [] and not_named.text.startswith("[demo] You said:")


def test_tool_results_are_reported_until_the_user_asks_something_new():
    called = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": WEATHER["name"], "input": {}}]}
    result = user({"type": "tool_result", "tool_use_id": "t1", "content": "sunny"})
    messages = [user(text("call get_weather")), called, result]
    assert demo_reply({"messages": messages, "tools": [WEATHER]}).text == "[demo] The tool returned: sunny"
    # as the gateway resumes a conversation whose history ends with function results
    resumed = [*messages, {"role": "assistant", "content": [text("No response requested.")]}]
    resumed.append(user(text(CONTINUE_AFTER_TOOLS)))
    assert demo_reply({"messages": resumed, "tools": [WEATHER]}).text == "[demo] The tool returned: sunny"
    asked = [*messages, {"role": "assistant", "content": [text("ok")]}, user(text("thanks"))]
    assert demo_reply({"messages": asked}).text == "[demo] You said: thanks"


def test_entering_demo_drops_every_operator_claude_variable(tmp_path):
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-operator",
        "ANTHROPIC_AUTH_TOKEN": "t",
        "ANTHROPIC_BASE_URL": "https://api.anthropic.com",
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-operator",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "CLAUDE_CONFIG_DIR": str(tmp_path / "real-login"),
        "AWS_SECRET_ACCESS_KEY": "aws",
        "GOOGLE_APPLICATION_CREDENTIALS": "/g.json",
        "PATH": "/usr/bin",
    }
    upstream = enter_demo(tmp_path / "demo-claude", environ)
    assert environ["ANTHROPIC_API_KEY"] == API_KEY
    assert environ["ANTHROPIC_BASE_URL"] == upstream.url and upstream.url.startswith("http://127.0.0.1:")
    assert environ["CLAUDE_CONFIG_DIR"] == str(tmp_path / "demo-claude")
    assert (tmp_path / "demo-claude").is_dir()
    assert environ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1" and environ["PATH"] == "/usr/bin"
    for gone in ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "AWS_SECRET_ACCESS_KEY"):
        assert gone not in environ
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in environ
    assert "operator" not in " ".join(environ.values())


def test_demo_settings_ignore_the_env_file_and_the_configured_login(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text("CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat-from-env-file\n")
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    real = Settings(claude_config_dir=str(tmp_path / "login"), data_dir=str(tmp_path / "data"))
    assert real.cli_env == {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-from-env-file"}
    demo = Settings(demo=True, claude_config_dir=str(tmp_path / "login"), data_dir=str(tmp_path / "data"))
    assert demo.cli_env == {}
    assert demo.config_dir == tmp_path / "data" / "demo-claude"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "::"])
def test_demo_binds_loopback_only_even_with_keys(host):
    with pytest.raises(SystemExit, match="in demo mode"):
        Settings(_env_file=None, demo=True, host=host, api_keys="k").check_bind()
    Settings(_env_file=None, demo=True, host="127.0.0.1", api_keys="k").check_bind()
