"""WSGI entry points: Django's ``application`` and the combined aiohttp ``app``."""

from __future__ import annotations

import os

from aiohttp import web
from django.core.wsgi import get_wsgi_application

from aiodjango import get_aio_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()
app = get_aio_application(application)


async def app_factory() -> web.Application:
    """aiohttp's factory convention: gunicorn's aiohttp workers await it on the serving loop."""
    return app


def make_app() -> web.Application:
    """A plain factory, called with no arguments."""
    return app


async def not_an_app() -> str:
    """A factory returning the wrong thing, for the error message."""
    return "not an app"
