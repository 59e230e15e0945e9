"""Responses wire models of the client-run tool types that have a shape of their own: `custom`
tools (free-text input), `local_shell`, `shell` and `apply_patch` (fixed actions the client runs),
their calls as a client sends them back, and their outputs. No logic."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...core.wire import ToolName, Wire


# --- tools ------------------------------------------------------------------------------------
class TextInputFormat(Wire):
    type: Literal["text"]


class GrammarInputFormat(Wire):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: str


class CustomTool(Wire):
    type: Literal["custom"]
    name: ToolName
    description: str | None = None
    format: Annotated[TextInputFormat | GrammarInputFormat, Field(discriminator="type")] | None = None


class LocalShellTool(Wire):
    type: Literal["local_shell"]


class ShellEnvironment(Wire):
    type: str  # "local" (the client runs the commands); a hosted container is refused (tool_types.py)
    skills: list[dict[str, object]] | None = None


class ShellTool(Wire):
    type: Literal["shell"]
    environment: ShellEnvironment | None = None


class ApplyPatchTool(Wire):
    type: Literal["apply_patch"]


class NamedCustom(Wire):  # tool_choice: this custom tool
    type: Literal["custom"]
    name: str


class NamedBuiltIn(Wire):  # tool_choice: the shell or apply_patch tool
    type: Literal["shell", "apply_patch", "local_shell"]


# --- calls sent back, and their outputs -------------------------------------------------------
class _Call(Wire):  # a call, or the output of one
    call_id: str = Field(min_length=1)


class CustomToolCallItem(_Call):
    type: Literal["custom_tool_call"]
    name: str
    input: str


class LocalShellAction(Wire):
    type: Literal["exec"] = "exec"
    command: list[str]
    env: dict[str, str] | None = None
    timeout_ms: int | None = None
    working_directory: str | None = None
    user: str | None = None


class LocalShellCallItem(_Call):
    type: Literal["local_shell_call"]
    action: LocalShellAction


class LocalShellCallOutputItem(Wire):
    """OpenAI names the call it answers `id` (the call's call_id); `call_id` is taken as well."""

    type: Literal["local_shell_call_output"]
    id: str | None = None
    call_id: str | None = None
    output: str

    @model_validator(mode="after")
    def _names_a_call(self) -> LocalShellCallOutputItem:
        if not (self.call_id or self.id):
            raise ValueError("a local_shell_call_output names the call it answers in `id` (or `call_id`)")
        return self

    @property
    def answers(self) -> str:
        return self.call_id or self.id or ""


class ShellAction(Wire):
    commands: list[str]
    timeout_ms: int | None = None
    max_output_length: int | None = None


class ShellCallItem(_Call):
    type: Literal["shell_call"]
    action: ShellAction


class ShellOutcome(Wire):
    type: Literal["exit", "timeout"]
    exit_code: int | None = None


class ShellOutput(Wire):
    stdout: str = ""
    stderr: str = ""
    outcome: ShellOutcome | None = None


class ShellCallOutputItem(_Call):
    type: Literal["shell_call_output"]
    output: list[ShellOutput]
    max_output_length: int | None = None


class PatchOperation(Wire):
    type: Literal["create_file", "update_file", "delete_file"]
    path: str
    diff: str | None = None


class ApplyPatchCallItem(_Call):
    type: Literal["apply_patch_call"]
    operation: PatchOperation


class ApplyPatchCallOutputItem(_Call):
    type: Literal["apply_patch_call_output"]
    status: Literal["completed", "failed"]
    output: str | None = None


CallItem = CustomToolCallItem | LocalShellCallItem | ShellCallItem | ApplyPatchCallItem
OutputItem = LocalShellCallOutputItem | ShellCallOutputItem | ApplyPatchCallOutputItem
