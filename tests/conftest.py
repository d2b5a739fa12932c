"""Test configuration: aiodjango's own fixtures (a real loopback server) for every test."""

from __future__ import annotations

import importlib

import pytest

pytest_plugins = ["aiodjango.testing"]


@pytest.fixture(scope="session", autouse=True)
def _project_views_registered() -> None:
    """Import the URLconfs whose ``@async_view`` views fill the default registry first.

    ``get_aio_application()`` freezes the registry it serves; a project imports its views
    before building the app (its ``wsgi.py`` does), and so does the suite, in any test order.
    """
    for urlconf in ("tests.urls", "tests.db_urls"):
        importlib.import_module(urlconf)
