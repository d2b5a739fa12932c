"""Targets for ``AIODJANGO_APPLICATION`` in the in-process runserver tests."""

from __future__ import annotations

from aiohttp import web

APP = web.Application()
NOT_AN_APP = "a string"


def make_app() -> web.Application:
    """A factory, which runserver calls."""
    return web.Application()
