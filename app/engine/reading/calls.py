"""The calls of the client's functions in one answer, as the reader meets them: each call's id,
name and arguments so far, and the id Claude Code knows it by.

Claude Code calls the client's functions through the tool bridge (engine/processes/tools.py) under its
own ids; the client gets those ids and sends each result back under one. Legacy function calling
gives the client no call id: the answer's first call (the only one it shows) gets the id the client
will send it back under, and `cli_ids` finds Claude Code's for it.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.events import Event, ToolCallDelta, ToolCallStart
from ...core.jsontext import partial_object
from ...core.messages import Block


class ClientCalls:
    """One answer's calls of the client's functions (module docstring)."""

    def __init__(self, legacy_call_id: str | None) -> None:
        self._calls: dict[int, list[str]] = {}  # see `by_index`
        self._pieces: dict[int, list[str]] = {}  # streamed arguments not yet joined into _calls
        self.streaming: int | None = None  # the call whose arguments are streaming
        self.legacy_call_id = legacy_call_id
        self.cli_ids: dict[str, str] = {}  # the id the client knows a call by -> Claude Code's

    @property
    def by_index(self) -> dict[int, list[str]]:
        """index -> [id, name, JSON text so far]. Streamed arguments are kept as pieces and joined
        when read: adding each delta to the string would copy all of it every time."""
        for index, pieces in self._pieces.items():
            self._calls[index][2] += "".join(pieces)
        self._pieces.clear()
        return self._calls

    def start(self, cli_id: str, name: str) -> ToolCallStart:
        """A streamed call begins; its arguments follow as `piece`s."""
        self.streaming = len(self.by_index)
        call_id = self._client_id(cli_id)
        self.by_index[self.streaming] = [call_id, name, ""]
        return ToolCallStart(self.streaming, call_id, name)

    def piece(self, index: int, piece: str) -> ToolCallDelta:
        self._pieces.setdefault(index, []).append(piece)
        return ToolCallDelta(index, piece)

    def whole(self, cli_id: str, name: str, arguments: dict[str, Any]) -> list[Event]:
        """A call of a whole (unstreamed) message: started and given all its arguments at once."""
        index = len(self.by_index)
        text = json.dumps(arguments, ensure_ascii=False)
        call_id = self._client_id(cli_id)
        self.by_index[index] = [call_id, name, text]
        return [ToolCallStart(index, call_id, name), ToolCallDelta(index, text)]

    def uses(self) -> list[Block]:
        """The calls as tool_use blocks of the answer's message, in order."""
        uses = []
        for call_id, name, arguments in (self.by_index[i] for i in sorted(self.by_index)):
            # max_tokens may have cut the arguments off: what is complete of them is kept
            uses.append({"type": "tool_use", "id": call_id, "name": name, "input": partial_object(arguments)})
        return uses

    def clear(self) -> None:
        self.by_index.clear()
        self.streaming = None

    def _client_id(self, cli_id: str) -> str:
        """The id the client gets for the next call: Claude Code's, or for the first call of a
        legacy answer (the only one it shows) the id the client will send it back under."""
        call_id = self.legacy_call_id if self.legacy_call_id and not self.by_index else cli_id
        self.cli_ids[call_id] = cli_id
        return call_id
