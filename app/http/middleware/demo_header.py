"""Demo mode's label (GATEWAY_DEMO, app/demo/): `X-Gateway-Demo: true` on every answer, refusals
and streams included, so that no one takes a canned answer for Claude's."""

from __future__ import annotations

from starlette.types import ASGIApp

from .extra_headers import ExtraHeaders

HEADER = (b"x-gateway-demo", b"true")


class DemoHeader(ExtraHeaders):
    """Puts `X-Gateway-Demo: true` on every answer, refusals and streams included."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, lambda scope: [HEADER])
