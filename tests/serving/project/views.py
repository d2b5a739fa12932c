"""Views of the serving tests' project. test_commands edits the two ``VERSION`` strings."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web
from django.http import HttpRequest, HttpResponse

from aiodjango import async_view


def sync_page(request: HttpRequest) -> HttpResponse:
    """A Django view."""
    return HttpResponse("sync VERSION-1")


@async_view
async def async_page(request: web.Request) -> web.Response:
    """An aiohttp view."""
    return web.Response(text="async VERSION-1")


@async_view(websocket=True)
async def echo(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Echoes text frames until the client or the server closes."""
    async for message in ws:
        await ws.send_str(message.data)


def slow(request: HttpRequest) -> HttpResponse:
    """A Django view sleeping ``?s=`` seconds: it must finish during a graceful shutdown.

    It first creates the file ``?started=`` names, so a test knows the request is in flight.
    """
    seconds = float(request.GET.get("s", "1"))
    if "started" in request.GET:
        Path(request.GET["started"]).touch()
    time.sleep(seconds)
    return HttpResponse(f"slept {seconds}")
