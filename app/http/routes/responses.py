"""POST /v1/responses (started by app/doors/responses.py), GET and DELETE /v1/responses/{id}
(OpenAI Responses API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...dialects.openai_responses.wire import ResponsesRequest
from ...doors import responses
from .. import openapi
from ..deps import CredentialDep, GatewayDep, TenantDep, TurnTenantDep
from ..respond import answer

router = APIRouter()


@router.post("/v1/responses", **openapi.operation(ResponsesRequest))
async def create_response(
    request: Request, gateway: GatewayDep, tenant: TurnTenantDep, credential: CredentialDep
) -> Response:
    body, ignored = await responses.REQUESTS.read(request, gateway, tenant)
    started = await responses.begin(gateway, body, tenant, credential)
    return await answer(
        request,
        started,
        bool(body.stream),
        ignored,
        # With replicas, the stored response is in Redis before its client can name it to another.
        settle=gateway.responses.flush if gateway.redis is not None else None,
    )


@router.get("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def get_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    return await gateway.responses.get(tenant.id, response_id)


@router.delete("/v1/responses/{response_id}", **openapi.operation(statuses=(401, 403, 404)))
async def delete_response(response_id: str, gateway: GatewayDep, tenant: TenantDep) -> dict[str, Any]:
    await gateway.responses.delete(tenant.id, response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}
