"""What a turn reserves of its key's budget when it starts: an estimate of what it will cost.

Checking a budget before a turn and charging it at the end let concurrent turns all pass the
check on the same remainder (four chats on a $0.0001 budget spent 3.7 times it). So every turn
reserves an estimate first, atomically with every other reservation and ledger entry of the key
(the store's reserve()), and its ledger entry settles it with what it really used.

The estimate: the prompt's tokens (its text at 4 characters a token, IMAGE_TOKENS per image or
document) plus the answer's `max_tokens`, or DEFAULT_OUTPUT_TOKENS without one, priced at the
model's list price (engine/prices.py) for `budget_usd`; tokens as they are for `token_budget`.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.prices import estimate_tokens, price
from ..engine.types import Turn, Usage
from ..store import Spent

# Output tokens a turn without max_tokens reserves: a long answer. Claude Code itself would allow
# 32k-128k, which would refuse most budgets outright; the turn's real usage settles it anyway.
DEFAULT_OUTPUT_TOKENS = 4096
IMAGE_TOKENS = 1600  # Anthropic's cost of a full-size image; a document's page count is unknown here
LEASE_MARGIN = 60.0  # seconds a hold outlives the longest turn, should its gateway die mid-turn


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


def estimate(turn: Turn) -> Spent:
    """What one turn reserves: USD at the model's rates, and tokens."""
    output = turn.max_output_tokens or DEFAULT_OUTPUT_TOKENS
    usage = Usage(input_tokens=prompt_tokens(turn), output_tokens=output)
    return Spent(price(turn.model, usage), usage.input_tokens + usage.output_tokens)


def _without_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_data(v) for k, v in value.items() if k != "data"}
    if isinstance(value, list):
        return [_without_data(v) for v in value]
    return value
