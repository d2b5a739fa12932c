"""reverse(), {% url %} and aiohttp's url_for agree for all three kinds of view."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from django.urls import resolve, reverse

from . import views
from .helpers import Client

KEY = "0b9e2c4a-1f6d-4c1e-9d43-3a6f0e7c8b21"

CASES: list[tuple[str, dict[str, str], str, Any]] = [
    ("django-plain", {}, "/django/", views.django_args),
    ("async-hello", {}, "/hello/", views.hello),
    ("aio-item", {"pk": "5"}, "/items/5/", views.aio_args),
    ("registry-hello", {"name": "ann"}, "/registry/ann/", views.registry_hello),
    ("api:item", {"pk": "7"}, "/api/items/7/", views.aio_args),
    ("api:inner:deep", {"key": KEY}, f"/api/nested/{KEY}/", views.aio_args),
    ("status", {"version": "3"}, "/v3/status/", views.aio_args),
    ("files", {"name": "a.txt"}, "/files/a.txt", views.aio_args),
]


@pytest.mark.parametrize(("name", "kwargs", "url", "view"), CASES)
def test_reverse_round_trips(name: str, kwargs: dict[str, str], url: str, view: Any) -> None:
    """reverse() builds the URL and resolve() leads back to the same view."""
    assert reverse(name, kwargs=kwargs) == url
    assert resolve(url).func is view


def test_reverse_positional_groups() -> None:
    """Positional regex groups reverse with args, as in Django."""
    assert reverse("legacy-positional", args=[12, "ab"]) == "/legacy/12/ab/"


@pytest.mark.parametrize(
    ("name", "kwargs", "url", "view"),
    [c for c in CASES if c[3] is not views.django_args and c[0] != "async-hello"],
)
async def test_url_for_agrees_with_reverse(
    aio_client: Client, name: str, kwargs: dict[str, str], url: str, view: Any
) -> None:
    """request.app.router[name].url_for(...) in a handler gives reverse()'s URL."""
    response = await aio_client.get("/url-for/", params={"route": name, **kwargs})
    assert (response.status, await response.text()) == (200, url)


async def test_url_tag_for_all_kinds(aio_client: Client) -> None:
    """{% url %} in a Django template builds URLs of Django, discovered and registry views."""
    response = await aio_client.get("/template-urls/")
    assert await response.text() == f"/django/|/items/5/|/registry/ann/|/api/nested/{KEY}/"


def test_url_for_of_unknown_name_fails(aio_app: web.Application) -> None:
    """An aiohttp lookup of a name that is no async view raises KeyError, as aiohttp does."""
    with pytest.raises(KeyError):
        aio_app.router["django-plain"]


def test_keyword_names_are_not_aiohttp_route_names(aio_app: web.Application) -> None:
    """aiohttp refuses names with Python keywords ('async-hello'); reverse() still builds them."""
    assert "async-hello" not in aio_app.router
    assert "aio-item" in aio_app.router
    assert reverse("async-hello") == "/hello/"
