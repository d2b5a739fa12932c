"""The database scenarios' views: the same query as an aiodjango view, a Django async view and
a Django sync view. ``*_item`` reads one row by primary key; ``*_sleep`` waits 20 ms in
PostgreSQL (``SELECT pg_sleep(0.02)``), a slow query that holds a connection but no CPU.
"""

from __future__ import annotations

import random

from aiohttp import web
from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse

from aiodjango import async_view
from benchmarks.database import ROWS

from .models import Item


def _pk() -> int:
    return random.randint(1, ROWS)


def _pg_sleep() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.02)")


@async_view
async def aio_item(request: web.Request) -> web.Response:
    """aiodjango: ``await Item.objects.aget(pk=...)`` on the event loop."""
    item = await Item.objects.aget(pk=_pk())
    return web.Response(text=item.name)


@async_view
async def aio_sleep(request: web.Request) -> web.Response:
    """aiodjango: a 20 ms query through ``sync_to_async``, as Django's docs say to write it."""
    await sync_to_async(_pg_sleep)()
    return web.Response(text="slept")


async def async_item(request: HttpRequest) -> HttpResponse:
    """Django async view: the same ``aget``."""
    item = await Item.objects.aget(pk=_pk())
    return HttpResponse(item.name)


async def async_sleep(request: HttpRequest) -> HttpResponse:
    """Django async view: the same 20 ms query."""
    await sync_to_async(_pg_sleep)()
    return HttpResponse(b"slept")


def sync_item(request: HttpRequest) -> HttpResponse:
    """Django sync view: ``Item.objects.get``."""
    return HttpResponse(Item.objects.get(pk=_pk()).name)


def sync_sleep(request: HttpRequest) -> HttpResponse:
    """Django sync view: the same 20 ms query."""
    _pg_sleep()
    return HttpResponse(b"slept")
