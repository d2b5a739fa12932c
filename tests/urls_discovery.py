"""A URLconf for the discovery rule: marked, annotated, native and ambiguous coroutine views."""

from __future__ import annotations

from aiohttp import web
from django.http import HttpRequest, HttpResponse
from django.urls import path

from aiodjango import async_view


@async_view
async def marked(request):  # type: ignore[no-untyped-def]
    """Marked: always aiohttp's."""
    return web.Response(text="marked")


async def annotated(request: web.Request) -> web.Response:
    """Annotated with aiohttp's Request: aiohttp's under 'annotated' and 'all'."""
    return web.Response(text="annotated")


async def returns_aiohttp(request) -> web.Response:  # type: ignore[no-untyped-def]
    """Return annotation alone is proof too."""
    return web.Response(text="returns")


async def native(request: HttpRequest) -> HttpResponse:
    """Django-native async view: Django's unless AIODJANGO_DISCOVERY='all'."""
    return HttpResponse(f"native {type(request).__name__}")


async def ambiguous(request):  # type: ignore[no-untyped-def]
    """No mark, no annotations: the system check warns about it."""
    return HttpResponse("ambiguous")


urlpatterns = [
    path("marked/", marked),
    path("annotated/", annotated),
    path("returns/", returns_aiohttp),
    path("native/", native),
    path("ambiguous/", ambiguous),
]
