"""The model a turn is recorded under, from a bounded set of names whatever clients send.

The gateway lets any `claude-...` id through to Claude Code (engine/models.py), so a client could
name a new model on every request; the ledger keeps counters per model (six per name and day in
Redis, hashes a report reads whole) and metrics a series per label value. So a turn is recorded as:

1. the model Claude reported answering with, if it is a name Claude Code lists (its aliases and
   their full ids, or "default") or a Claude id of a family Claude Code lists
   (`claude-[<version>-]<family>[-<version>][-<YYYYMMDD>]`, e.g. claude-sonnet-5-5,
   claude-3-5-haiku-20241022): only a model the upstream really served reports itself, so these
   are as many as the upstream has;
2. else the model the request named, if Claude Code lists it (a name the client chose and no
   upstream confirmed is never kept as such);
3. else `other`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

OTHER = "other"
_VERSION = r"\d{1,2}(?:-\d{1,2})?"


def families(known: set[str]) -> set[str]:
    """The model families Claude Code's aliases name: "sonnet", "opus", ... (not "default")."""
    return {name for name in known if re.fullmatch(r"[a-z]+", name) and name != "default"}


def family_id(name: str, known: set[str]) -> bool:
    """Whether `name` is shaped as a Claude id of one of the known families."""
    names = "|".join(sorted(families(known)))
    if not names:
        return False
    shape = rf"claude-(?:{_VERSION}-)?(?:{names})(?:-{_VERSION})?(?:-\d{{8}})?"
    return re.fullmatch(shape, name) is not None


def recorded_model(reported: str | None, requested: str | None, known: set[str]) -> str:
    """The name a turn is recorded under (the module's rule)."""
    listed = known | {"default"}
    if reported and (reported in listed or family_id(reported, listed)):
        return reported
    requested = requested or "default"
    return requested if requested in listed else OTHER


def namer(known_models: Callable[[], set[str]] | None) -> Callable[[str | None, str | None], str]:
    """recorded_model with the engine's list of known names, read at each call (the CLI's answer
    to the model probe may come later); without one, nothing is known but "default"."""

    def name(reported: str | None, requested: str | None) -> str:
        try:
            known = known_models() if known_models is not None else set()
        except Exception:
            known = set()
        return recorded_model(reported, requested, known)

    return name
