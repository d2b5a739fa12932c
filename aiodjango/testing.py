"""Test helpers: the combined app on a real loopback server, with an aiohttp client.

With pytest, add ``pytest_plugins = ["aiodjango.testing"]`` to ``conftest.py`` and use the
``aio_app`` and ``aio_client`` fixtures (they need pytest-aiohttp). Elsewhere, ``async with
serve(app) as client:`` does the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from .application import get_aio_application

__all__ = ("aio_app", "aio_client", "serve")


@asynccontextmanager
async def serve(
    app: web.Application | None = None,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Run ``app`` (default: ``get_aio_application()``) on 127.0.0.1 and yield a client for it."""
    server = TestServer(app if app is not None else get_aio_application(), host="127.0.0.1")
    async with TestClient(server) as client:
        yield client


@pytest.fixture
def aio_app() -> web.Application:
    """The project's combined application, built fresh for each test."""
    return get_aio_application()


@pytest.fixture
async def aio_client(
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
    aio_app: web.Application,
) -> TestClient[web.Request, web.Application]:
    """A client for ``aio_app`` served on a real 127.0.0.1 port; use relative URLs."""
    return await aiohttp_client(aio_app)
