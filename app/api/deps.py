"""What a route takes from the app, declared in its signature: `gateway: GatewayDep` for the
gateway's state, `tenant: TenantDep` for the caller (401 in the door's envelope without a valid key),
`credential: CredentialDep` for the Claude credential the caller's turns run with.

The style of FastAPI's full-stack template: `Annotated` aliases instead of `Depends(...)` defaults,
so a route's needs are typed and read as its parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..auth import Tenant, presented_key, tenant_for
from ..engine.credentials import Credential
from ..gateway import Gateway
from .checks import request_credential


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def authenticate(request: Request, gateway: GatewayDep) -> Tenant:
    """The caller's tenant, from the API key it presents."""
    return tenant_for(presented_key(request), gateway.settings.api_key_list)


TenantDep = Annotated[Tenant, Depends(authenticate)]


def caller_credential(request: Request, gateway: GatewayDep, tenant: TenantDep) -> Credential | None:
    """The caller's own Claude credential for this request's turns; None: the operator's."""
    return request_credential(request, gateway.settings, tenant)


CredentialDep = Annotated[Credential | None, Depends(caller_credential)]
