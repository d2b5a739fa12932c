"""A URLconf with an ambiguous coroutine view (W001); ``check_dup_urls`` shares a name (E002)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from aiodjango import async_view


async def ambiguous(request):  # type: ignore[no-untyped-def]
    """No mark, no annotations: Django-native or aiohttp? W001 asks."""
    return HttpResponse("which one?")


@async_view
async def aio_named(request: web.Request) -> web.Response:
    """An aiohttp view whose URL name another view also uses (E002)."""
    return web.Response(text="aio")


def django_named(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A Django view sharing aio_named's URL name."""
    return HttpResponse("django")


urlpatterns: list[URLPattern] = [path("ambiguous/", ambiguous, name="ambiguous")]
