"""The pool's parked processes: conversations' processes kept connected between turns.

A parked process makes the conversation's next turn skip a start (about a second, pool.py), but it
holds a process slot and its memory. So each is kept with what its conversation is worth (a turn
held for the client's function results most, then a named session, a stateless conversation that
continued before, a one-off; core/turn.py) and since when it is idle: room is made from the least
worth first, least recently used among equals, and each closes after idling as long as its worth
allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ...core.turn import HELD, ONE_OFF
from .process import ClaudeProcess


@dataclass
class Parked:
    since: float
    on_evict: Callable[[], None]  # the conversation forgets the process before the pool closes it
    worth: int


class Parking:
    """The parked processes (module docstring); the pool closes those it picks."""

    def __init__(self) -> None:
        self._parked: dict[ClaudeProcess, Parked] = {}

    def __len__(self) -> int:
        return len(self._parked)

    def __contains__(self, process: object) -> bool:
        return process in self._parked

    def __getitem__(self, process: ClaudeProcess) -> Parked:
        return self._parked[process]

    def park(self, process: ClaudeProcess, on_evict: Callable[[], None], worth: int) -> None:
        self._parked.pop(process, None)
        self._parked[process] = Parked(time.monotonic(), on_evict, worth)

    def get(self, process: ClaudeProcess) -> Parked | None:
        return self._parked.get(process)

    def pop(self, process: ClaudeProcess) -> Parked | None:
        return self._parked.pop(process, None)

    def expired(self, idle_timeout: float, one_off_timeout: float) -> list[tuple[ClaudeProcess, Parked]]:
        """The processes idle for longer than their worth allows."""
        now = time.monotonic()
        return [
            (process, parked)
            for process, parked in list(self._parked.items())
            if now - parked.since > (one_off_timeout if parked.worth == ONE_OFF else idle_timeout)
        ]

    def least_worth(self) -> tuple[ClaudeProcess, Parked] | None:
        """The process to give up first: least worth, then least recently used."""
        if not self._parked:
            return None
        return min(self._parked.items(), key=lambda item: (item[1].worth, item[1].since))

    def oldest_first(self, processes: Iterable[ClaudeProcess]) -> list[ClaudeProcess]:
        """Those of `processes` that are parked, least recently used first."""
        return sorted((p for p in processes if p in self._parked), key=lambda p: self._parked[p].since)

    def held(self) -> int:
        """How many hold a turn waiting for the client's function results."""
        return sum(1 for parked in self._parked.values() if parked.worth == HELD)
