"""The WebSocket doors: `/v1/responses` (the Responses API's WebSocket mode, beside its POST) and
`/v1/chat/ws`. Their loops live in app/http/sockets/."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..deps import GatewayDep
from . import chat, responses

router = APIRouter()


@router.websocket("/v1/responses")
async def responses_socket(websocket: WebSocket, gateway: GatewayDep) -> None:
    await responses.serve(websocket, gateway)


@router.websocket("/v1/chat/ws")
async def chat_socket(websocket: WebSocket, gateway: GatewayDep) -> None:
    await chat.serve(websocket, gateway)
