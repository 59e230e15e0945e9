"""GET /v1/models and /v1/models/{id} in OpenAI's list format, each model with what agent clients
read besides (context window, reasoning efforts, input modalities). Codex adds `client_version` to
the query when it asks; the answer is the same list for every client."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ...dialects.openai_chat.wire import Model, ModelList
from ...engine.interface import ModelInfo
from ..deps import GatewayDep, authenticate

router = APIRouter(dependencies=[Depends(authenticate)])


async def _models(gateway: GatewayDep) -> list[Model]:
    found = await gateway.engine.list_models()
    return [_model(m) for m in found]


def _model(info: ModelInfo) -> Model:
    return Model(
        id=info.id,
        created=info.created,
        display_name=info.display_name,
        context_window=info.context_window,
        reasoning_efforts=list(info.efforts),
        input_modalities=["text", "image"] if info.takes_images else ["text"],
    )


@router.get("/v1/models")
async def list_models(gateway: GatewayDep) -> dict[str, Any]:
    return ModelList(data=await _models(gateway)).model_dump()


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, gateway: GatewayDep) -> dict[str, Any]:
    for model in await _models(gateway):
        if model.id == model_id:
            return model.model_dump()
    gateway.engine.resolve_model(model_id)  # 404 unless served
    return _model(ModelInfo(model_id, model_id)).model_dump()  # a claude- id the CLI did not list
