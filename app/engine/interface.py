"""The one interface between the gateway and Claude: every door runs its turns through an `Engine`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core.credentials import Credential
from ..core.events import Event
from ..core.turn import Turn

# What every Claude model takes (Claude Code reports no context window; its models answer in 200k
# tokens unless a `[1m]` variant is asked for) and the effort levels Claude Code offers.
CONTEXT_WINDOW = 200_000
LONG_CONTEXT_WINDOW = 1_000_000
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


@dataclass
class ModelInfo:
    id: str
    display_name: str
    created: int = 0
    efforts: tuple[str, ...] = EFFORT_LEVELS  # Claude Code's `supportedEffortLevels` for the model
    takes_images: bool = True

    @property
    def context_window(self) -> int:
        return LONG_CONTEXT_WINDOW if self.id.endswith("[1m]") else CONTEXT_WINDOW


class Engine(Protocol):
    """All that touches Claude. Errors are raised as `GatewayError` from `stream`."""

    def stream(self, turn: Turn) -> AsyncGenerator[Event, None]: ...

    async def list_models(self) -> list[ModelInfo]: ...

    def resolve_model(self, name: str) -> str | None:
        """The model to run for a requested name (None: Claude Code's default); 404 if not served."""
        ...

    def known_models(self) -> set[str]:
        """The model names the CLI reported (not every `claude-` id resolve_model lets through):
        the values a metric's model label may take."""
        ...

    async def auth_status(self) -> dict[str, Any]: ...

    async def count_tokens(self, payload: dict[str, Any], credential: Credential | None = None) -> tuple[int, str]:
        """Input tokens of an Anthropic Messages request, and "upstream" or "estimate"; asked with
        the caller's own credential if given, never then with the operator's."""
        ...

    def end_conversation(self, conversation_id: str) -> None:
        """Forget a conversation: close its process, remove its folder and transcripts."""
        ...

    def fork_conversation(
        self, source: str, target: str, workspace: Path | None = None, source_workspace: Path | None = None
    ) -> None:
        """Make conversation `target` a fork of `source`, in `workspace` for an agent session (its
        files already copied there); `source_workspace`: the source's, if it is an agent session."""
        ...

    def close_idle_processes(self) -> int: ...

    def stats(self, conversations: Collection[str] | None = None) -> dict[str, Any]:
        """Figures of the whole engine, or (given conversation ids) of those conversations only."""
        ...

    def ready(self) -> bool:
        """Whether Claude Code has been started and answered once (the readiness probe)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
