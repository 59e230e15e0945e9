"""The x-ratelimit-*-requests headers that authentication put on the request (a key with an rpm
limit: app/http/deps.py), written on whatever answers it, refusals and streams included."""

from __future__ import annotations

from starlette.types import ASGIApp, Scope

from .extra_headers import ExtraHeaders, RawHeaders


def rate_headers(scope: Scope) -> RawHeaders:
    state = scope.get("state") or {}
    extra = state.get("rate_headers") if isinstance(state, dict) else None
    return [(k.encode(), v.encode()) for k, v in extra.items()] if extra else []


class RateHeaders(ExtraHeaders):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, rate_headers)
