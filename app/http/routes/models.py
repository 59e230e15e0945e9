"""GET /v1/models and /v1/models/{id} in OpenAI's list format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ...dialects.openai_chat.wire import Model, ModelList
from ..deps import GatewayDep, authenticate

router = APIRouter(dependencies=[Depends(authenticate)])


async def _models(gateway: GatewayDep) -> list[Model]:
    found = await gateway.engine.list_models()
    return [Model(id=m.id, created=m.created, display_name=m.display_name) for m in found]


@router.get("/v1/models")
async def list_models(gateway: GatewayDep) -> dict[str, Any]:
    return ModelList(data=await _models(gateway)).model_dump()


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, gateway: GatewayDep) -> dict[str, Any]:
    for model in await _models(gateway):
        if model.id == model_id:
            return model.model_dump()
    gateway.engine.resolve_model(model_id)  # 404 unless served
    return Model(id=model_id).model_dump()  # a claude- id the CLI did not list: served as is
