"""Test helpers: the combined app on a real loopback server, with an aiohttp client.

With pytest, add ``pytest_plugins = ["aiodjango.testing"]`` to ``conftest.py`` and use the
``aio_app`` and ``aio_client`` fixtures (they need pytest-aiohttp). Elsewhere, ``async with
serve(app) as client:`` does the same.

The server runs views on other threads than the test's (the database threads, the WSGI
bridge's), with their own database connections: tests that touch the database through it need
real commits, ``@pytest.mark.django_db(transaction=True)`` or Django's ``TransactionTestCase``.
When the server stops, the database threads close their connections, so the test database can
be flushed and dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from .application import get_aio_application
from .database import close_database_threads

__all__ = ("aio_app", "aio_client", "refuse_test_transaction", "serve")


@asynccontextmanager
async def serve(
    app: web.Application | None = None,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Run ``app`` (default: ``get_aio_application()``) on 127.0.0.1 and yield a client for it."""
    server = TestServer(app if app is not None else get_aio_application(), host="127.0.0.1")
    try:
        async with TestClient(server) as client:
            yield client
    finally:
        await close_database_threads()  # also for apps not built by get_aio_application()


def refuse_test_transaction(request: pytest.FixtureRequest) -> None:
    """Raise ``pytest.UsageError`` if the test runs in a transaction the server cannot see.

    pytest-django's ``db`` fixture (``django_db`` without ``transaction=True``) wraps the test
    in a transaction on the test's own connection; the server's threads would not see its rows,
    and on PostgreSQL could wait for its locks until the test times out.
    """
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        return
    if marker is None and "db" not in names:
        return  # no database for this test
    transaction = marker is not None and (
        marker.kwargs.get("transaction", marker.args[0] if marker.args else False)
    )
    if not transaction:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses aio_client inside a test transaction, which the "
            "server's threads cannot see. Use @pytest.mark.django_db(transaction=True) or the "
            "transactional_db fixture."
        )


@pytest.fixture
def aio_app() -> web.Application:
    """The project's combined application, built fresh for each test."""
    return get_aio_application()


@pytest.fixture
async def aio_client(
    request: pytest.FixtureRequest,
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
    aio_app: web.Application,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A client for ``aio_app`` served on a real 127.0.0.1 port; use relative URLs.

    Refuses a test wrapped in a transaction (``django_db`` without ``transaction=True``).
    """
    refuse_test_transaction(request)
    yield await aiohttp_client(aio_app)
    await close_database_threads()
