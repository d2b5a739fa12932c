"""@async_view records views in a registry and returns them unchanged."""

from __future__ import annotations

import pytest
from aiohttp import web
from django.urls import include, path

from aiodjango import AsyncViewDef, AsyncViewRegistry, get_aio_application
from aiodjango.registry import DuplicateAsyncView, get_view_def
from aiodjango.testing import serve


async def handler(request: web.Request) -> web.Response:
    """A plain aiohttp handler."""
    return web.Response(text=request.match_info.get("name", "none"))


async def other(request: web.Request) -> web.Response:
    """Another handler."""
    return web.Response(text="other")


def test_bare_decorator_marks_and_returns_unchanged() -> None:
    """@async_view (bare) marks the handler without registering a pattern."""
    registry = AsyncViewRegistry()
    assert registry.async_view(handler) is handler
    view_def = get_view_def(handler)
    assert view_def == AsyncViewDef(handler)
    assert len(registry) == 0


def test_called_decorator_records_route_and_regex() -> None:
    """Called with a pattern, it records pattern, name, websocket flag and the syntax."""
    registry = AsyncViewRegistry()
    registry.async_view("hello/<str:name>/", name="hello")(handler)
    registry.async_view(r"^legacy/(\d+)/$", name="legacy", websocket=False)(other)
    first, second = list(registry)
    assert (first.pattern, first.name, first.websocket, first.is_regex) == (
        "hello/<str:name>/",
        "hello",
        False,
        False,
    )
    assert (second.pattern, second.is_regex) == (r"^legacy/(\d+)/$", True)
    assert repr(first) == "<AsyncViewDef 'hello' hello/<str:name>/ tests.test_registry.handler>"


def test_sync_function_is_refused() -> None:
    """A non-async function raises TypeError naming it."""
    registry = AsyncViewRegistry()

    def sync_view(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(TypeError, match="sync_view.*async def"):
        registry.async_view("x/")(sync_view)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="sync_view"):
        registry.async_view(sync_view)  # type: ignore[type-var]


def test_duplicates_name_both_handlers() -> None:
    """A duplicate name or pattern raises an error naming both handlers."""
    registry = AsyncViewRegistry()
    registry.async_view("a/", name="a")(handler)
    with pytest.raises(
        DuplicateAsyncView, match=r"'a'.*test_registry\.other.*test_registry\.handler"
    ):
        registry.async_view("b/", name="a")(other)
    with pytest.raises(DuplicateAsyncView, match=r"'a/'.*other.*handler"):
        registry.async_view("a/", name="b")(other)


def test_registration_after_build_is_refused() -> None:
    """Once an app is built from a registry, late registrations fail loudly."""
    registry = AsyncViewRegistry()
    registry.async_view("late-a/", name="late-a")(handler)
    get_aio_application(registry=registry)
    with pytest.raises(RuntimeError, match="already built"):
        registry.async_view("late-b/", name="late-b")(other)


_registry = AsyncViewRegistry()
_registry.async_view("r/<str:name>/", name="custom-r")(handler)
_registry.async_view(r"^re/(?P<name>[a-z]+)/$", name="custom-re")(other)
urlpatterns = [path("mounted/", include(_registry.urls))]


async def test_custom_registry_is_served_and_reversible(settings: object) -> None:
    """A user-made registry mounted with include(registry.urls) serves and reverses."""
    from django.urls import reverse

    app = get_aio_application(registry=_registry, urlconf=__name__)
    assert reverse("custom-r", kwargs={"name": "zed"}, urlconf=__name__) == "/mounted/r/zed/"
    async with serve(app) as client:
        response = await client.get("/mounted/r/zed/")
        assert await response.text() == "zed"
        response = await client.get("/mounted/re/abc/")
        assert await response.text() == "other"


async def test_registry_views_outside_urlconf_are_still_served() -> None:
    """Registry views the URLconf does not include are served after every URLconf pattern."""
    registry = AsyncViewRegistry()
    registry.async_view("only/in/registry/", name="only-registry")(other)
    async with serve(get_aio_application(registry=registry)) as client:
        response = await client.get("/only/in/registry/")
        assert (response.status, await response.text()) == (200, "other")
