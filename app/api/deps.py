"""What a route takes from the app, declared in its signature: `gateway: GatewayDep` for the
gateway's state, `tenant: TenantDep` for the caller (401 in the door's envelope without a valid key).

The style of FastAPI's full-stack template: `Annotated` aliases instead of `Depends(...)` defaults,
so a route's needs are typed and read as its parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..auth import Tenant, presented_key
from ..errors import GatewayError, invalid_api_key
from ..gateway import Gateway


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def authenticate(request: Request, gateway: GatewayDep) -> Tenant:
    """The caller's tenant, from the API key it presents."""
    return await gateway.keys.tenant(presented_key(request))


TenantDep = Annotated[Tenant, Depends(authenticate)]


def authenticate_admin(request: Request, gateway: GatewayDep) -> None:
    """Only the admin key passes (403 while none is set)."""
    if not gateway.settings.admin_key:
        raise GatewayError(
            403, "The admin API is off: set GATEWAY_ADMIN_KEY to use it.", "permission_error", "admin_api_disabled"
        )
    if not gateway.keys.is_admin(presented_key(request)):
        raise invalid_api_key()


AdminDep = Depends(authenticate_admin)
