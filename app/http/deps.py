"""What a route takes from the app, declared in its signature: `gateway: GatewayDep` for the
gateway's state, `tenant: TenantDep` for the caller (401 in the door's envelope without a valid key),
`credential: CredentialDep` for the Claude credential the caller's turns run with.

The style of FastAPI's full-stack template: `Annotated` aliases instead of `Depends(...)` defaults,
so a route's needs are typed and read as its parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from ..core.credentials import Credential
from ..core.errors import GatewayError, invalid_api_key
from ..doors.checks import request_credential
from ..doors.gateway import Gateway
from ..tenancy.auth import ADMIN, Tenant, key_name, presented_key


async def get_gateway(request: HTTPConnection) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def authenticate(request: HTTPConnection, gateway: GatewayDep) -> Tenant:
    """The caller's tenant, from the API key it presents. A key with an rpm limit gets the rate
    headers on whatever it is answered (RateHeaders writes them)."""
    tenant = await gateway.keys.tenant(presented_key(request))
    request.state.rate_headers = await gateway.sessions.limits.rate_headers(tenant)
    request.state.key_name = key_name(tenant)  # for the request's log line (app/observability)
    return tenant


TenantDep = Annotated[Tenant, Depends(authenticate)]


async def authenticate_viewer(request: Request, gateway: GatewayDep) -> Tenant:
    """The caller of a view the admin may look at too: ADMIN for the admin key, else its tenant."""
    if gateway.keys.is_admin(presented_key(request)):
        return ADMIN
    return await authenticate(request, gateway)


ViewerDep = Annotated[Tenant, Depends(authenticate_viewer)]


async def authenticate_turn(request: HTTPConnection, gateway: GatewayDep, tenant: TenantDep) -> Tenant:
    """The caller of a turn (the three doors): its request counted against its rpm, and refused
    once its budget is spent, before the body is even read."""
    limits = gateway.sessions.limits
    request.state.rate_headers = await limits.count_request(tenant)
    await limits.check_budget(tenant)
    return tenant


TurnTenantDep = Annotated[Tenant, Depends(authenticate_turn)]


async def authenticate_admin(request: Request, gateway: GatewayDep) -> None:
    """Only the admin key passes (403 while none is set)."""
    if not gateway.settings.admin_key:
        raise GatewayError(
            403, "The admin API is off: set GATEWAY_ADMIN_KEY to use it.", "permission_error", "admin_api_disabled"
        )
    if not gateway.keys.is_admin(presented_key(request)):
        raise invalid_api_key()


AdminDep = Depends(authenticate_admin)


async def caller_credential(request: HTTPConnection, gateway: GatewayDep, tenant: TenantDep) -> Credential | None:
    """The caller's own Claude credential for this request's turns: sent with the request (where
    allowed), else the one stored with its key; None: the operator's. A stored credential that
    cannot be decrypted refuses the turn: it never falls back to the operator's."""
    sent = request_credential(request, gateway.settings, tenant)
    if sent is None and tenant.credential_unreadable:
        raise GatewayError(
            503,
            "This key's stored Claude credential cannot be decrypted (GATEWAY_SECRET_KEY changed?); "
            "ask the gateway's admin to set it again.",
            "api_error",
            "stored_credential_unreadable",
        )
    return sent or tenant.credential


CredentialDep = Annotated[Credential | None, Depends(caller_credential)]
