"""Who a batch request runs as: the batch's creator as it is now, its key resolved again when each
request runs (policy, budget, stored Claude credential), so that a key revoked or changed since the
batch was created counts, not the key as it was."""

from __future__ import annotations

from ..core.credentials import Credential
from ..core.errors import GatewayError
from ..tenancy.auth import Tenant
from ..tenancy.keys import KeyService
from .model import Batch


async def owner(keys: KeyService, batch: Batch) -> tuple[Tenant, Credential | None]:
    """The batch's creator as it is now: its key's policy and stored credential."""
    if batch.key_id is None:  # keyless, or a GATEWAY_API_KEYS key: no policy, the operator's login
        return Tenant(batch.tenant), None
    tenant = await keys.tenant_by_id(batch.key_id)
    if tenant is None:
        raise GatewayError(
            401, "The API key that created this batch has been revoked.", "authentication_error", "key_revoked"
        )
    if tenant.credential_unreadable:
        raise GatewayError(
            503,
            "This key's stored Claude credential cannot be decrypted (GATEWAY_SECRET_KEY changed?).",
            "api_error",
            "stored_credential_unreadable",
        )
    return tenant, tenant.credential
