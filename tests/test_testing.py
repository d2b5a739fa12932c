"""aiodjango.testing with the database: pytest-django's fixtures and Django's TransactionTestCase.

The server runs views on its own threads and connections, so each of these tests commits for
real and is flushed afterwards; docs/testing.md shows the pytest ones.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from django.contrib.auth.models import Group
from django.test import TransactionTestCase

from aiodjango import AsyncViewRegistry, get_aio_application
from aiodjango.testing import refuse_test_transaction, serve

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def aio_app() -> web.Application:
    """The database test views (a project keeps the plugin's default, its own URLconf)."""
    return get_aio_application(urlconf="tests.db_urls", registry=AsyncViewRegistry())


# --8<-- [start:pytest]
@pytest.mark.django_db(transaction=True)
async def test_an_async_view_writes_a_row_the_test_reads(aio_client: Client) -> None:
    """An async view's write is committed, so the test's own ORM call sees it."""
    response = await aio_client.post("/db/groups/?name=editors")
    assert response.status == 201
    assert await Group.objects.filter(name="editors").aexists()


async def test_a_websocket_handler_writes_next_to_the_tests_rows(
    transactional_db: None, aio_client: Client
) -> None:
    """A row the test wrote is seen by the server, and a socket's write by the test."""
    await Group.objects.acreate(name="readers")
    async with aio_client.ws_connect("/db/ws/?db=default") as ws:
        await ws.send_str("create:writers")
        assert "id" in await ws.receive_json()
    response = await aio_client.get("/db/groups/")
    assert await response.json() == {"names": ["readers", "writers"]}


# --8<-- [end:pytest]


@pytest.mark.django_db(transaction=True)
async def test_each_test_starts_with_an_empty_table(aio_client: Client) -> None:
    """The rows other tests' servers committed were flushed (whatever the test order)."""
    response = await aio_client.get("/db/groups/")
    assert await response.json() == {"names": []}


@pytest.mark.django_db
def test_a_test_transaction_is_refused_with_the_fix(request: pytest.FixtureRequest) -> None:
    """``django_db`` without transaction=True: the fixture names the marker that works."""
    with pytest.raises(pytest.UsageError, match=r"django_db\(transaction=True\)"):
        refuse_test_transaction(request)


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_is_accepted(request: pytest.FixtureRequest) -> None:
    """``django_db(transaction=True)`` passes the check."""
    assert refuse_test_transaction(request) is None  # type: ignore[func-returns-value]


# --8<-- [start:unittest]
class GroupViewTests(TransactionTestCase):
    """Django's TransactionTestCase, with an async test method serving the app."""

    async def test_an_async_view_lists_the_rows_the_test_wrote(self) -> None:
        """The view reads the committed rows; its own write shows up in the test."""
        await Group.objects.acreate(name="staff")
        app = get_aio_application(urlconf="tests.db_urls", registry=AsyncViewRegistry())
        async with serve(app) as client:
            self.assertEqual((await client.post("/db/groups/?name=guests")).status, 201)
            response = await client.get("/db/groups/")
            self.assertEqual(await response.json(), {"names": ["guests", "staff"]})
        self.assertEqual(await Group.objects.acount(), 2)


# --8<-- [end:unittest]
