"""What Claude's tokens cost when Claude Code has not said: the list prices of its models.

Claude Code's own `total_cost_usd` is the ledger's truth whenever a turn's result arrives. Two
things need a price before or without it: a budget's reservation when a turn starts (an estimate,
settled with the real cost at its end: app/tenancy/limits.py), and a turn that ended before its
result (the client hung up, a stop string or max_tokens cut it, it failed mid-way): what it had
streamed is priced here, as Anthropic bills it all the same.

Prices are by model family, in USD per million tokens (input, output, cache read, cache write),
as the pinned CLI (2.1.329) prices them (its models' descriptions; fitted to its total_cost_usd).
"default" is Claude Code's default model (Opus); a name of no known family is priced as the
dearest family, so that an estimate errs towards holding a budget.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .events import Usage
from .turn import Turn

MILLION = 1_000_000
CHARS_PER_TOKEN = 4  # the estimate count_tokens uses without Anthropic's count (engine/tokens.py)
IMAGE_TOKENS = 1600  # Anthropic's cost of a full-size image; a document's page count is unknown here


@dataclass(frozen=True)
class Rates:
    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        """USD for `usage` at these rates."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_input_tokens * self.cache_read
            + usage.cache_creation_input_tokens * self.cache_write
        ) / MILLION


FAMILIES = {
    "fable": Rates(8.0, 40.0, 0.2, 10.0),
    "opus": Rates(4.0, 20.0, 0.2, 5.0),
    "sonnet": Rates(2.0, 10.0, 0.1, 2.5),
    "haiku": Rates(0.1, 0.5, 0.01, 0.125),
}
DEFAULT_FAMILY = "opus"  # what Claude Code runs for model "default" (its initialize answer says so)
DEAREST = max(FAMILIES.values(), key=lambda rates: rates.output)
_FAMILY = re.compile(r"(?:^|-)(" + "|".join(FAMILIES) + r")(?:-|$)")


def rates_for(model: str | None) -> Rates:
    """The rates of a model name: an alias ("sonnet"), a full id ("claude-sonnet-5-5"), None or
    "default" (Claude Code's default); the dearest family's for a name of none."""
    if model is None or model == "default":
        return FAMILIES[DEFAULT_FAMILY]
    found = _FAMILY.search(model.lower())
    return FAMILIES[found.group(1)] if found else DEAREST


def price(model: str | None, usage: Usage) -> float:
    """USD for `usage` on `model` at its list price."""
    return rates_for(model).cost(usage)


def estimate_tokens(text_length: int) -> int:
    """Tokens in a text of this many characters, roughly (4 characters a token)."""
    return math.ceil(text_length / CHARS_PER_TOKEN)


def prompt_tokens(turn: Turn) -> int:
    """The turn's prompt (system text and every message) in tokens, roughly."""
    chars, media = len(turn.system or ""), 0
    for message in turn.messages:
        for block in message.content:
            kind = block.get("type")
            if kind in ("image", "document"):
                media += 1
            elif kind == "text":
                chars += len(str(block.get("text", "")))
            else:  # tool calls and results: their JSON, less any media inside
                chars += len(json.dumps(_without_data(block), ensure_ascii=False))
    return estimate_tokens(chars) + media * IMAGE_TOKENS


def _without_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_data(v) for k, v in value.items() if k != "data"}
    if isinstance(value, list):
        return [_without_data(v) for v in value]
    return value
