"""A site under a path prefix (FORCE_SCRIPT_NAME): dispatch and every URL builder agree.

This module is also the URLconf of its tests: an async view, a Django view, a websocket view
and a root page, served under ``/app`` by a real server on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import Context, Template
from django.test import override_settings
from django.urls import get_script_prefix, path, reverse

from aiodjango import async_view, get_aio_application, reverse_ws
from aiodjango.interop import django_request
from aiodjango.testing import serve

from .helpers import Client, ws_connect

PREFIX = "/app"
_URL_TAG = Template("{% url 'hello' %}|{% url 'dj' %}")


def _urls() -> dict[str, str]:
    return {"reverse": reverse("hello"), "tag": _URL_TAG.render(Context())}


@async_view
async def hello(request: web.Request) -> web.Response:
    """An async view reporting every URL builder and what Django sees of the request."""
    django = django_request(request)
    return web.json_response(
        {
            **_urls(),
            "url_for": str(request.app.router["hello"].url_for()),
            "ws": reverse_ws(request, "echo"),
            "script_name": django.META["SCRIPT_NAME"],
            "path_info": django.path_info,
            "path": django.path,
        }
    )


def dj(request: HttpRequest) -> HttpResponse:
    """A Django view reporting the same."""
    return JsonResponse(
        {
            **_urls(),
            "ws": reverse_ws(request, "echo"),
            "script_name": request.META["SCRIPT_NAME"],
            "path_info": request.path_info,
            "path": request.path,
        }
    )


def index(request: HttpRequest) -> HttpResponse:
    """The site's root page."""
    return HttpResponse(f"root {request.path}")


@async_view(websocket=True)
async def echo(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Sends reverse("hello") as the socket sees it, then echoes one message."""
    await ws.send_str(reverse("hello"))
    await ws.send_str(await ws.receive_str())


# django-stubs types path() views as Django views; aiohttp views in a URLconf are the point.
urlpatterns = [
    path("", index, name="index"),
    path("hello/", hello, name="hello"),  # type: ignore[arg-type]
    path("dj/", dj, name="dj"),
    path("ws/", echo, name="echo"),  # type: ignore[arg-type]
]


@pytest.fixture
def prefixed() -> Iterator[None]:
    """This URLconf, served under ``/app``."""
    with override_settings(ROOT_URLCONF=__name__, FORCE_SCRIPT_NAME=PREFIX):
        yield


@pytest.fixture
async def client(prefixed: None) -> AsyncIterator[Client]:
    """A real server of this URLconf under the prefix."""
    async with serve(get_aio_application(urlconf=__name__)) as client:
        yield client


async def _json(client: Client, url: str, **headers: str) -> dict[str, str]:
    response = await client.get(url, headers=headers)
    assert response.status == 200, await response.text()
    data: dict[str, str] = json.loads(await response.text())
    return data


async def test_async_view_under_the_prefix(client: Client) -> None:
    """/app/hello/ reaches the async view; reverse, {% url %}, url_for, reverse_ws agree."""
    data = await _json(client, "/app/hello/")
    host = f"127.0.0.1:{client.port}"
    assert data == {
        "reverse": "/app/hello/",
        "tag": "/app/hello/|/app/dj/",
        "url_for": "/app/hello/",
        "ws": f"ws://{host}/app/ws/",
        "script_name": "/app",
        "path_info": "/hello/",
        "path": "/app/hello/",
    }


async def test_django_view_under_the_prefix(client: Client) -> None:
    """/app/dj/ reaches Django with SCRIPT_NAME=/app and PATH_INFO without it."""
    data = await _json(client, "/app/dj/")
    assert data == {
        "reverse": "/app/hello/",
        "tag": "/app/hello/|/app/dj/",
        "ws": f"ws://127.0.0.1:{client.port}/app/ws/",
        "script_name": "/app",
        "path_info": "/dj/",
        "path": "/app/dj/",
    }


async def test_prefix_alone_is_the_root(client: Client) -> None:
    """/app (no final slash) is the site's root, as PATH_INFO "" is for Django on WSGI."""
    for url in ("/app", "/app/"):
        response = await client.get(url)
        assert (response.status, await response.text()) == (200, "root /app/")


@pytest.mark.parametrize("url", ["/hello/", "/dj/"])
async def test_stripping_proxy_without_header(client: Client, url: str) -> None:
    """A path without /app is one a proxy stripped (Django on WSGI): served, URLs keep /app."""
    data = await _json(client, url)
    assert (data["reverse"], data["script_name"], data["path"]) == (
        "/app/hello/",
        "/app",
        "/app" + url,
    )


async def test_prefix_is_removed_at_a_segment_boundary_only(client: Client) -> None:
    """/apple/ is not /app + le/ (Django's ASGI handler would strip it mid-segment)."""
    response = await client.get("/apple/")
    assert response.status == 404
    assert "<h1>Not Found</h1>" in await response.text()  # Django's page_not_found


async def test_bad_host_is_refused_without_the_prefix_too(client: Client) -> None:
    """A refused Host is a 400 on a stripped path too, as everywhere else."""
    response = await client.get("/hello/", headers={"Host": "evil.example"})
    assert response.status == 400


@pytest.mark.parametrize("url", ["/hello/", "/dj/"])
async def test_stripping_proxy_sends_the_prefix(client: Client, url: str) -> None:
    """A proxy that strips /app and sends X-Forwarded-Prefix: /app is served, URLs keep /app."""
    data = await _json(client, url, **{"X-Forwarded-Prefix": "/app/"})
    assert (data["reverse"], data["script_name"], data["path"]) == (
        "/app/hello/",
        "/app",
        "/app" + url,
    )


async def test_other_forwarded_prefix_is_ignored(client: Client) -> None:
    """An X-Forwarded-Prefix other than FORCE_SCRIPT_NAME changes nothing: the URL decides."""
    data = await _json(client, "/app/hello/", **{"X-Forwarded-Prefix": "/evil"})
    assert data["reverse"] == "/app/hello/"


async def test_websocket_under_the_prefix(client: Client) -> None:
    """A websocket view is reached under /app and its reverse() has the prefix."""
    async with ws_connect(client, "/app/ws/") as ws:
        assert await ws.recv() == "/app/hello/"
        await ws.send("ping")
        assert await ws.recv() == "ping"


async def test_websocket_behind_a_stripping_proxy(client: Client) -> None:
    """A websocket handshake at the stripped path is served, and reverse() keeps /app."""
    async with ws_connect(client, "/ws/") as ws:
        assert await ws.recv() == "/app/hello/"


def test_url_for_outside_a_request(prefixed: None) -> None:
    """app.router[name].url_for() has the prefix also outside a request, leaving reverse() be."""
    app = get_aio_application(urlconf=__name__)
    before = get_script_prefix()
    assert str(app.router["hello"].url_for()) == "/app/hello/"
    assert get_script_prefix() == before


async def test_no_prefix_serves_the_plain_paths() -> None:
    """Without FORCE_SCRIPT_NAME the same URLconf is at /hello/ and /app/hello/ is a 404."""
    with override_settings(ROOT_URLCONF=__name__):
        async with serve(get_aio_application(urlconf=__name__)) as client:
            data = await _json(client, "/hello/")
            assert (data["reverse"], data["script_name"], data["path"]) == (
                "/hello/",
                "",
                "/hello/",
            )
            assert (await client.get("/app/hello/")).status == 404
