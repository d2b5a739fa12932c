"""The views each scenario requests: the same work behind every server."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from aiodjango import async_view

HELLO = b"Hello, World!"
FIRST_CHUNK = b"first chunk\n"
SLOW_SECONDS = 0.05


@async_view("hello/", name="hello")
async def hello(request: web.Request) -> web.Response:
    """The async hello: an aiohttp handler served by aiodjango on the event loop."""
    return web.Response(body=HELLO, content_type="text/plain")


@async_view("ws/echo/", name="echo", websocket=True)
async def echo(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Echo every text message back, as the bare aiohttp and Channels peers do."""
    async for msg in ws:
        await ws.send_str(msg.data)


@async_view
async def widget(request: web.Request) -> web.Response:
    """The routing scenario's target: an async view placed last in the URLconf."""
    return web.Response(body=b"widget %d" % request.match_info.kwargs["pk"])  # type: ignore[attr-defined]


def django_hello(request: HttpRequest) -> HttpResponse:
    """The sync Django hello: through the WSGI fallback, aiohttp-wsgi, gunicorn or uvicorn."""
    return HttpResponse(HELLO, content_type="text/plain")


async def django_async_hello(request: HttpRequest) -> HttpResponse:
    """A Django-native async view: what a Django user writes for uvicorn."""
    return HttpResponse(HELLO, content_type="text/plain")


def slow(request: HttpRequest) -> HttpResponse:
    """A sync view that holds a pool thread (a slow query or remote call), not the GIL."""
    time.sleep(SLOW_SECONDS)
    return HttpResponse(b"slow", content_type="text/plain")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """A stream whose first chunk is ready at once and the rest later: TTFB shows buffering."""

    def chunks() -> Iterator[bytes]:
        yield FIRST_CHUNK
        for _ in range(3):
            time.sleep(0.01)
            yield b"x" * 1024

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def other(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """Every routing-scale pattern that is not the target: never requested."""
    return HttpResponse(b"other", content_type="text/plain")
