"""A turn's usage on its way to the ledger (app/usage/ledger.py), for a turn in a session (turn.py)
and one outside any (SessionService.one_off) alike: the engine's events read through its meter, and
the entry written however the turn ends, settling the budget it reserved."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field

from ..core.errors import GatewayError
from ..core.events import Event
from ..core.turn import Turn
from ..tenancy.auth import Tenant, key_name
from ..usage.ledger import Ledger, Meter


def failure_code(exc: Exception) -> str:
    """What the ledger says a turn failed of: the gateway error's code, else the exception's type."""
    return (exc.code if isinstance(exc, GatewayError) else None) or type(exc).__name__


@dataclass
class Recorded:
    """A turn being metered for the ledger: `holds`, its budget reservations, once made; till
    then the turn has not reached Claude and no entry is written."""

    meter: Meter
    holds: list[str] | None = field(default=None)


@asynccontextmanager
async def recorded(
    ledger: Ledger, turn: Turn, tenant: Tenant, door: str, session_id: str | None, meter: Meter
) -> AsyncIterator[Recorded]:
    """Write the turn's ledger entry on the way out, once it reserved (`holds` set): "ok", "error"
    (with its failure_code) or "cancelled" (cut short), settling its reservations."""
    entry, status, error = Recorded(meter), "cancelled", None
    try:
        yield entry
        status = "ok"
    except Exception as exc:
        status, error = "error", failure_code(exc)
        raise
    finally:
        if entry.holds is not None:
            name = key_name(tenant)
            await ledger.record(turn, tenant.key_id, door, session_id, meter, status, error, name, entry.holds)


async def metered(stream: AsyncGenerator[Event, None], meter: Meter) -> AsyncGenerator[Event, None]:
    """The engine's events, each seen by `meter` first; the engine's stream is closed with this one."""
    async with aclosing(stream) as events:
        async for event in events:
            meter.see(event)
            yield event
