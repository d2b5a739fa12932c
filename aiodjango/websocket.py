"""Websocket views: the handshake, the handler call and the close, driven by ``@async_view``."""

from __future__ import annotations

from aiohttp import web

from .registry import AsyncViewDef

__all__ = ("serve_websocket",)


async def serve_websocket(view_def: AsyncViewDef, request: web.Request) -> web.StreamResponse:
    """Upgrade ``request``, run the handler with the prepared ``ws``, and close it after."""
    ws = web.WebSocketResponse(protocols=view_def.protocols)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="Expected a websocket upgrade request.")
    await ws.prepare(request)
    try:
        await view_def.handler(request, ws)
    finally:
        await ws.close()
    return ws
