"""get_aio_application(): the seed's recipe, its 0.2 keywords, and the static option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from django.core.exceptions import ImproperlyConfigured

from aiodjango import get_aio_application
from aiodjango.testing import serve


async def test_seed_wsgi_module_recipe() -> None:
    """`app = get_aio_application(application)` in wsgi.py serves /hello/ and Django."""
    from tests.wsgi import app

    async with serve(app) as client:
        hello = await client.get("/hello/")
        assert await hello.text() == "Hello World"
        django = await client.get("/django/")
        assert (await django.json())["server"] == "django"


def test_wsgi_keyword_is_deprecated() -> None:
    """The 0.2 keyword wsgi= still works and warns, naming its replacement."""
    from django.core.wsgi import get_wsgi_application

    with pytest.warns(DeprecationWarning, match="wsgi_app"):
        app = get_aio_application(wsgi=get_wsgi_application())
    assert isinstance(app, web.Application)


async def test_include_static(settings: Any, tmp_path: Path) -> None:
    """include_static=True serves STATIC_ROOT at STATIC_URL with aiohttp (the 0.2 option)."""
    (tmp_path / "site.css").write_text("body{}")
    settings.STATIC_ROOT = str(tmp_path)
    async with serve(get_aio_application(include_static=True)) as client:
        response = await client.get("/static/site.css")
        assert (response.status, await response.text()) == (200, "body{}")


def test_include_static_needs_static_root(settings: Any) -> None:
    """Without STATIC_ROOT, include_static=True fails naming the setting."""
    settings.STATIC_ROOT = None
    with pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"):
        get_aio_application(include_static=True)


async def test_app_kwargs_reach_aiohttp() -> None:
    """Extra keyword arguments go to aiohttp.web.Application (e.g. middlewares)."""

    @web.middleware
    async def tag(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers["X-Tag"] = "yes"
        return response

    async with serve(get_aio_application(middlewares=[tag])) as client:
        assert (await client.get("/hello/")).headers["X-Tag"] == "yes"
        assert (await client.get("/django/")).headers["X-Tag"] == "yes"
