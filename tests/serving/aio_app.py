"""Targets for the loader and the in-process runserver tests (``aiodjango.loading``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from django.core.wsgi import get_wsgi_application

APP = web.Application()
NOT_AN_APP = "a string"
application = get_wsgi_application()


def make_app() -> web.Application:
    """A plain factory, called with no arguments."""
    return web.Application()


async def async_factory() -> web.Application:
    """An async factory, awaited on the serving loop."""
    return APP


async def needs_arguments(name: str) -> web.Application:
    """Not a factory: it cannot be called with no arguments."""
    return APP


def returns_string() -> str:
    """A factory returning the wrong thing."""
    return "not an app"


def wsgi_callable(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A bare WSGI callable (no Django handler), wrapped like Django's."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain wsgi"]


class Namespace:
    """Holds a target one attribute deeper (``module:Namespace.APP``)."""

    APP = APP
