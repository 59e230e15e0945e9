"""JSON text from clients (request bodies, function-call arguments), parsed so that no later step
can choke on it; and Claude's own JSON when it was cut short.

Python's `json` recurses once per nesting level: a body nested 100,000 levels deep raises
RecursionError (a 500), and one nested 900 levels deep parses, then fails later in `json.dumps`.
pydantic-core's parser (Rust) stops at 200 levels with a clear error and is faster. It also
refuses lone surrogates ("\\ud800"), which could never be written out as UTF-8 (JSON answers,
transcripts). A number too big for a float (1e400) parses as infinity, which no JSON answer can
carry back, so it is refused too.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic_core import from_json

MAX_DEPTH = 200  # pydantic-core's parser's own limit
# A float literal can only overflow to infinity with an exponent of 3+ digits or 309+ digits.
_MAYBE_HUGE = re.compile(r"[eE]\+?0*[1-9]\d{2,}|\d{309,}")
_MAYBE_HUGE_BYTES = re.compile(_MAYBE_HUGE.pattern.encode())


class InvalidJSON(ValueError):
    """The text is not JSON this gateway accepts; the message says why, for the client."""


def loads(text: str | bytes | bytearray) -> Any:
    try:
        value = from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("recursion limit exceeded"):
            reason = f"it is nested more than {MAX_DEPTH} levels deep"
        raise InvalidJSON(reason) from None
    maybe_huge = _MAYBE_HUGE.search(text) if isinstance(text, str) else _MAYBE_HUGE_BYTES.search(text)
    if maybe_huge and _has_infinity(value):
        raise InvalidJSON("a number is too large")
    return value


def partial_object(text: str) -> dict[str, Any]:
    """The JSON object in `text` as far as it is complete: Claude's function arguments when
    max_tokens cut them off ('{"city": "Oslo", "unit": "cel' gives {"city": "Oslo"}); {} if none."""
    try:
        value = from_json(text or "{}", allow_partial=True)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _has_infinity(value: Any) -> bool:
    todo = [value]
    while todo:  # no recursion: the value may be 200 levels deep
        item = todo.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False
