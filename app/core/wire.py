"""What every API's wire models share: one base model, and the limits on what a request may carry
to Claude Code's command line."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# The model name and the client's function names reach Claude Code's command line, where one
# argument may hold 128 KiB and all of them about 2 MiB (E2BIG beyond), readable in `ps`: a model
# name longer than any real one, or more functions than OpenAI accepts, is refused up front.
MAX_MODEL_NAME = 256
MAX_TOOLS = 128
ModelName = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_NAME)]
# A function name as both OpenAI and Anthropic accept it (it becomes part of an MCP tool's name).
ToolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Wire(BaseModel):
    """A part of a request as a client sends it. Unknown fields are kept, not rejected, so clients
    that send vendor extensions keep working, and the translators can name them as ignored."""

    model_config = ConfigDict(extra="allow")
