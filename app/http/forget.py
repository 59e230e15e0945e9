"""What revoking a key (DELETE /admin/keys/{id}) removes besides the key: everything the key's
tenant left in the gateway, on every replica of a shared store, so that nothing of a former user
lingers (docs/hosting.md, "Hosting for a team"). Only the usage ledger stays: it holds figures, no content,
and the reports must still add up.

In order: its sessions (and their processes, on every replica), its batches (running ones are
cancelled first, then every batch is deleted with its requests and results), its uploaded files
(batch input and output files among them), its stored responses, and its agent workspaces. The
stored Claude credential is dropped by the revocation itself (Store.revoke_key).
"""

from __future__ import annotations

import asyncio

from ..batches import anthropic, openai
from ..doors.gateway import Gateway

PAGE = 100


async def forget_tenant(gateway: Gateway, tenant: str) -> None:
    await gateway.sessions.end_tenant(tenant)
    for api in (anthropic.API, openai.API):
        for batch in await gateway.batches.store.listed(tenant, api):
            if not batch.ended:
                await gateway.batches.cancel(batch)
            await gateway.batches.store.delete(batch.id)
    while found := await gateway.files.list(tenant, limit=PAGE):
        for record in found:
            await gateway.files.delete(tenant, record.id)
    await gateway.responses.delete_tenant(tenant)
    await asyncio.to_thread(gateway.workspaces.remove_tenant, tenant)
