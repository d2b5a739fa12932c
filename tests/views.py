"""Views of the test project: Django views, aiohttp views, and the bridge's edge cases."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt

from aiodjango import async_view


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, int | str | type(None)) else str(value)


def django_args(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """A sync Django view reporting what Django passed to it."""
    return JsonResponse(
        {
            "server": "django",
            "view": request.resolver_match.view_name if request.resolver_match else None,
            "args": [_jsonable(a) for a in args],
            "kwargs": {k: _jsonable(v) for k, v in kwargs.items()},
        }
    )


@async_view
async def aio_args(request: web.Request) -> web.Response:
    """An aiohttp view (marked) reporting what aiodjango passed to it."""
    info = request.match_info
    return web.json_response(
        {
            "server": "aiohttp",
            "view": getattr(info, "url_name", None),
            "args": [_jsonable(a) for a in getattr(info, "args", ())],
            "kwargs": {k: _jsonable(v) for k, v in getattr(info, "kwargs", {}).items()},
            "match_info": dict(info),
        }
    )


async def hello(request: web.Request) -> web.Response:
    """The 2015 seed's example view, found by discovery from its annotation."""
    return web.Response(text="Hello World")


async def native_async(request: HttpRequest) -> HttpResponse:
    """A Django-native async view: Django must keep serving it."""
    return HttpResponse(f"native {type(request).__name__}")


@async_view("registry/<str:name>/", name="registry-hello")
async def registry_hello(request: web.Request) -> web.Response:
    """A registry-only view, mounted with include("aiodjango.urls")."""
    return web.Response(text=f"registry {request.match_info['name']}")


@async_view
async def boom(request: web.Request) -> web.Response:
    """An async view that fails."""
    raise RuntimeError("async boom")


@async_view
async def teapot(request: web.Request) -> web.Response:
    """An async view raising aiohttp's own HTTP exception."""
    raise web.HTTPUnavailableForLegalReasons(link=None, text="451 stays")


@async_view
@csrf_exempt
async def echo_body(request: web.Request) -> web.Response:
    """An async view reading the request body."""
    return web.Response(text=str(len(await request.read())))


def unicode_name(request: HttpRequest, name: str) -> HttpResponse:
    """Echoes a captured path segment, to check non-ASCII paths through the bridge."""
    return HttpResponse(name, content_type="text/plain; charset=utf-8")


def cookies(request: HttpRequest) -> HttpResponse:
    """Sets two cookies."""
    response = HttpResponse("cookies")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


STREAM_STATE: dict[str, Any] = {"steps": 0, "closed": threading.Event(), "threads": []}


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """Streams 50 chunks 0.1 s apart (``?steps=``), recording how far it got, whether it was
    closed, and the thread each step and the close ran on."""
    STREAM_STATE["steps"] = 0
    STREAM_STATE["closed"] = closed = threading.Event()
    STREAM_STATE["threads"] = threads = [threading.get_ident()]
    steps = int(request.GET.get("steps", "50"))

    def chunks() -> Iterator[bytes]:
        try:
            for step in range(steps):
                STREAM_STATE["steps"] = step + 1
                threads.append(threading.get_ident())
                yield f"chunk {step}\n".encode()
                time.sleep(0.1)
        finally:
            threads.append(threading.get_ident())
            closed.set()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


class RecordingFile(io.FileIO):
    """A real file that records the size of every read, to prove files go out in blocks."""

    reads: ClassVar[list[int]] = []

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.reads.append(len(data))
        return data


def big_file(request: HttpRequest) -> FileResponse:
    """Serves the file named by ?path= (tests only)."""
    return FileResponse(RecordingFile(Path(request.GET["path"]), "r"))


def slow(request: HttpRequest) -> HttpResponse:
    """A Django view that takes a while."""
    time.sleep(float(request.GET.get("s", "1")))
    return HttpResponse(f"slow {threading.current_thread().name}")


def thread_name(request: HttpRequest) -> HttpResponse:
    """Names the thread Django runs on."""
    return HttpResponse(threading.current_thread().name)


def sync_boom(request: HttpRequest) -> HttpResponse:
    """A Django view that fails."""
    raise RuntimeError("sync boom")


@csrf_exempt
def echo_json(request: HttpRequest) -> HttpResponse:
    """Echoes the JSON body back."""
    return JsonResponse({"got": json.loads(request.body or b"null")})


@async_view
async def url_for_view(request: web.Request) -> web.Response:
    """Builds a URL with aiohttp's router, as a handler would."""
    kwargs = {k: v for k, v in request.query.items() if k != "route"}
    return web.Response(text=str(request.app.router[request.query["route"]].url_for(**kwargs)))


@async_view
async def not_found(request: web.Request) -> web.Response:
    """Raises Django's Http404 from an async view."""
    from django.http import Http404

    raise Http404("no such thing")


def template_urls(request: HttpRequest) -> HttpResponse:
    """Renders {% url %} for all three kinds of view."""
    from django.template import engines

    template = engines["django"].from_string(
        "{% url 'django-plain' %}|{% url 'aio-item' pk=5 %}|{% url 'registry-hello' name='ann' %}"
        "|{% url 'api:inner:deep' key='0b9e2c4a-1f6d-4c1e-9d43-3a6f0e7c8b21' %}"
    )
    return HttpResponse(template.render({}, request))


@async_view
async def mutating(request: web.Request) -> web.Response:
    """Reports its kwargs, then changes them (the next request must not see the change)."""
    kwargs = request.match_info.kwargs  # type: ignore[attr-defined]
    seen = sorted(kwargs)
    kwargs["added"] = True
    return web.Response(text=",".join(seen))


# What the last /hang/ request's handler went through, for the cancellation test.
HANG: dict[str, Any] = {}


@async_view
async def hang(request: web.Request) -> web.Response:
    """Never answers: records that it started and whether it was cancelled."""
    HANG.clear()
    HANG["started"] = started = asyncio.Event()
    HANG["cancelled"] = cancelled = asyncio.Event()
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancelled.set()
        raise
    raise AssertionError("unreachable")  # pragma: no cover - the wait never ends
