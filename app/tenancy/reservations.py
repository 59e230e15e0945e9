"""What a turn reserves of its key's budget when it starts: an estimate of what it will cost.

Checking a budget before a turn and charging it at the end let concurrent turns all pass the
check on the same remainder (four chats on a $0.0001 budget spent 3.7 times it). So every turn
reserves an estimate first, atomically with every other reservation and ledger entry of the key
(the store's reserve()), and its ledger entry settles it with what it really used.

The estimate: the prompt's tokens (its text at 4 characters a token, IMAGE_TOKENS per image or
document: core/prices.prompt_tokens) plus the answer's `max_tokens`, or DEFAULT_OUTPUT_TOKENS
without one, priced at the model's list price (core/prices.py) for `budget_usd`; tokens as they are
for `token_budget`.
"""

from __future__ import annotations

from ..core.events import Usage
from ..core.prices import price, prompt_tokens
from ..core.turn import Turn
from ..store import Spent

# Output tokens a turn without max_tokens reserves: a long answer. Claude Code itself would allow
# 32k-128k, which would refuse most budgets outright; the turn's real usage settles it anyway.
DEFAULT_OUTPUT_TOKENS = 4096
LEASE_MARGIN = 60.0  # seconds a hold outlives the longest turn, should its gateway die mid-turn


def estimate(turn: Turn) -> Spent:
    """What one turn reserves: USD at the model's rates, and tokens."""
    output = turn.max_output_tokens or DEFAULT_OUTPUT_TOKENS
    usage = Usage(input_tokens=prompt_tokens(turn), output_tokens=output)
    return Spent(price(turn.model, usage), usage.input_tokens + usage.output_tokens)
