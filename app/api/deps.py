"""What a route takes from the app, declared in its signature: `gateway: GatewayDep` for the
gateway's state, `tenant: TenantDep` for the caller (401 in the door's envelope without a valid key).

The style of FastAPI's full-stack template: `Annotated` aliases instead of `Depends(...)` defaults,
so a route's needs are typed and read as its parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..auth import ADMIN, Tenant, presented_key
from ..errors import GatewayError, invalid_api_key
from ..gateway import Gateway


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def authenticate(request: Request, gateway: GatewayDep) -> Tenant:
    """The caller's tenant, from the API key it presents. A key with an rpm limit gets the rate
    headers on whatever it is answered (RateHeaders writes them)."""
    tenant = await gateway.keys.tenant(presented_key(request))
    request.state.rate_headers = gateway.sessions.limits.rate_headers(tenant)
    return tenant


TenantDep = Annotated[Tenant, Depends(authenticate)]


async def authenticate_viewer(request: Request, gateway: GatewayDep) -> Tenant:
    """The caller of a view the admin may look at too: ADMIN for the admin key, else its tenant."""
    if gateway.keys.is_admin(presented_key(request)):
        return ADMIN
    return await authenticate(request, gateway)


ViewerDep = Annotated[Tenant, Depends(authenticate_viewer)]


async def authenticate_turn(request: Request, gateway: GatewayDep, tenant: TenantDep) -> Tenant:
    """The caller of a turn (the three doors): its request counted against its rpm, and refused
    once its budget is spent, before the body is even read."""
    limits = gateway.sessions.limits
    request.state.rate_headers = limits.count_request(tenant)
    await limits.check_budget(tenant)
    return tenant


TurnTenantDep = Annotated[Tenant, Depends(authenticate_turn)]


def authenticate_admin(request: Request, gateway: GatewayDep) -> None:
    """Only the admin key passes (403 while none is set)."""
    if not gateway.settings.admin_key:
        raise GatewayError(
            403, "The admin API is off: set GATEWAY_ADMIN_KEY to use it.", "permission_error", "admin_api_disabled"
        )
    if not gateway.keys.is_admin(presented_key(request)):
        raise invalid_api_key()


AdminDep = Depends(authenticate_admin)
