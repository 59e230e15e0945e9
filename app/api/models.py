"""GET /v1/models and /v1/models/{id} in OpenAI's list format."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..auth import authenticate
from ..protocol.openai_chat import Model, ModelList

router = APIRouter(dependencies=[Depends(authenticate)])


async def _models(request: Request) -> list[Model]:
    found = await request.app.state.gateway.engine.list_models()
    return [Model(id=m.id, created=m.created, display_name=m.display_name) for m in found]


@router.get("/v1/models")
async def list_models(request: Request) -> dict:
    return ModelList(data=await _models(request)).model_dump()


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict:
    for model in await _models(request):
        if model.id == model_id:
            return model.model_dump()
    request.app.state.gateway.engine.resolve_model(model_id)  # 404 unless served
    return Model(id=model_id).model_dump()  # a claude- id the CLI did not list: served as is
