"""Async views and websockets use the database as Django views do: in parallel, under its rules.

Every test serves ``tests/db_urls.py`` through ``get_aio_application()`` on a real loopback
server and queries the real PostgreSQL on 127.0.0.1:5432 (alias ``postgres``; SQLite where
noted). A side connection (``monitor``) watches ``pg_stat_activity`` for the backends of the
test's own ``application_name``. Parallelism is shown without timing: the test holds an
advisory lock that every request's query waits for, and counts the backends waiting at once.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.signals import request_finished, request_started
from django.db import connections

from aiodjango import AsyncViewRegistry, get_aio_application
from aiodjango.database import (
    DatabaseLease,
    DatabaseThreads,
    close_database_threads,
    database_threads,
    install_router,
)
from aiodjango.testing import serve
from tests.db_views import backend

from .helpers import Client

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "postgres"])

LOCK = 727_001


def app() -> web.Application:
    """The combined app serving the database test views."""
    return get_aio_application(urlconf="tests.db_urls", registry=AsyncViewRegistry())


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``check()`` holds (a liveness bound of 20 s, not a speed assertion)."""
    for _ in range(2000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@dataclass
class Database:
    """The PostgreSQL side of a test: its application_name and a monitor connection."""

    name: str
    monitor: psycopg.Connection[Any]

    def backends(self, waiting_on_lock: bool = False) -> list[int]:
        """Pids of the app's backends (those waiting on an advisory lock, if asked)."""
        sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
        if waiting_on_lock:
            sql += " AND wait_event_type = 'Lock'"
        return [pid for (pid,) in self.monitor.execute(sql, [self.name]).fetchall()]

    async def count(self, waiting_on_lock: bool = False) -> int:
        return len(await asyncio.to_thread(self.backends, waiting_on_lock))

    def kill(self, pid: int) -> None:
        self.monitor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def pg_config() -> dict[str, Any]:
    """DATABASES["postgres"] overrides for the test (mark it with ``pg(...)``)."""
    return {}


def pg(**config: Any) -> pytest.MarkDecorator:
    """Run the test with these DATABASES["postgres"] keys (CONN_MAX_AGE, OPTIONS, ...)."""
    return pytest.mark.parametrize("pg_config", [config], ids=[""])


@pytest.fixture
async def database(pg_config: dict[str, Any]) -> AsyncIterator[Database]:
    """Fresh database threads and the test's PostgreSQL settings, undone afterwards."""
    await close_database_threads()
    alias: dict[str, Any] = settings.DATABASES["postgres"]
    saved = {key: alias.get(key) for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS")}
    name = f"aiodjango-test-{uuid.uuid4().hex[:10]}"
    options = {**pg_config.pop("OPTIONS", {}), "application_name": name}
    alias.update({"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, **pg_config, "OPTIONS": options})
    monitor = psycopg.connect(
        host="127.0.0.1", user="postgres", dbname=alias["NAME"], autocommit=True
    )
    try:
        yield Database(name, monitor)
    finally:
        await close_database_threads()
        connections["postgres"].close_pool()  # type: ignore[attr-defined]
        alias.update(saved)
        monitor.close()


@asynccontextmanager
async def advisory_lock(db: Database) -> AsyncIterator[None]:
    """Hold advisory lock LOCK, so that queries asking for it wait in the database."""
    db.monitor.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    try:
        yield
    finally:
        db.monitor.execute("SELECT pg_advisory_unlock(%s)", [LOCK])


async def get_json(client: Client, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


def views_waiting_on_the_lock(client: Client, count: int) -> list[asyncio.Future[dict[str, Any]]]:
    """``count`` concurrent requests to a view that blocks on the test's advisory lock."""
    return [
        asyncio.ensure_future(get_json(client, f"/db/backend/?lock={LOCK}")) for _ in range(count)
    ]


@pytest.fixture
def threads(settings: Any) -> Iterator[Callable[[int], None]]:
    """Set AIODJANGO_DB_THREADS for the test."""

    def set_threads(count: int) -> None:
        settings.AIODJANGO_DB_THREADS = count

    yield set_threads


async def test_http_views_query_in_parallel_up_to_the_thread_bound(
    database: Database, threads: Callable[[int], None]
) -> None:
    """12 concurrent views waiting in PostgreSQL: 8 backends wait at once (the bound), 4 queue."""
    threads(8)
    async with serve(app()) as client:
        async with advisory_lock(database):
            calls = views_waiting_on_the_lock(client, 12)
            await eventually(
                lambda: _pair(
                    database.count(waiting_on_lock=True), 8, database_threads().waiting, 4
                ),
                "8 backends waiting on the lock and 4 leases waiting for a thread",
            )
            assert database_threads().started == 8
        answers = await asyncio.gather(*calls)
    assert len({answer["thread"] for answer in answers}) == 8
    assert all(answer["thread"].startswith("aiodjango-db-") for answer in answers)


async def _pair(count: Awaitable[int], expected: int, other: int, other_expected: int) -> bool:
    return await count == expected and other == other_expected


async def test_websockets_query_in_parallel_and_idle_sockets_hold_no_thread(
    database: Database, threads: Callable[[int], None]
) -> None:
    """6 sockets waiting in PostgreSQL use 4 threads (the bound); idle, they use none."""
    threads(4)
    async with serve(app()) as client:
        sockets = [await client.ws_connect("/db/ws/") for _ in range(6)]
        for ws in sockets:
            await ws.send_str("pid")
            assert "pid" in await ws.receive_json()
        assert database_threads().lent == 0
        async with advisory_lock(database):
            for ws in sockets:
                await ws.send_str(f"lock:{LOCK}")
            await eventually(
                lambda: _pair(
                    database.count(waiting_on_lock=True), 4, database_threads().waiting, 2
                ),
                "4 backends waiting on the lock and 2 sockets waiting for a thread",
            )
        answers = [await ws.receive_json() for ws in sockets]
        assert all("pid" in answer for answer in answers)
        assert database_threads().lent == 0
        for ws in sockets:
            await ws.close()
    await eventually(lambda: _is(database.count(), 0), "no backend left after the sockets")


async def _is(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_conn_max_age_0_gives_a_backend_per_request_and_leaves_none_open(
    database: Database,
) -> None:
    """With CONN_MAX_AGE = 0 (Django's default) each request opens and closes its connection."""
    async with serve(app()) as client:
        pids = [(await get_json(client, "/db/backend/"))["pid"] for _ in range(5)]
        await eventually(lambda: _is(database.count(), 0), "no backend open between requests")
    assert len(set(pids)) == 5


@pg(CONN_MAX_AGE=60)
async def test_persistent_connections_stay_bounded_by_the_threads(
    database: Database, threads: Callable[[int], None]
) -> None:
    """With CONN_MAX_AGE = 60, 60 requests (12 at a time) and 8 sockets keep <= 3 backends."""
    threads(3)
    async with serve(app()) as client:
        pids: set[int] = set()
        for _ in range(5):
            answers = await asyncio.gather(*(get_json(client, "/db/backend/") for _ in range(12)))
            pids.update(answer["pid"] for answer in answers)
        sockets = [await client.ws_connect("/db/ws/") for _ in range(8)]
        for ws in sockets:
            await ws.send_str("pid")
        for ws in sockets:
            pids.add((await ws.receive_json())["pid"])
            await ws.close()
        assert 1 <= len(pids) <= 3
        assert 1 <= await database.count() <= 3


@pg(OPTIONS={"pool": {"min_size": 1, "max_size": 3, "timeout": 20}})
async def test_the_connection_pool_max_size_holds(
    database: Database, threads: Callable[[int], None]
) -> None:
    """Django's psycopg pool (max_size 3) under 12 concurrent views on 8 threads: 3 backends."""
    threads(8)
    async with serve(app()) as client:
        async with advisory_lock(database):
            calls = views_waiting_on_the_lock(client, 12)
            await eventually(
                lambda: _pair(
                    database.count(waiting_on_lock=True), 3, database_threads().waiting, 4
                ),
                "3 pooled backends waiting on the lock, every thread busy",
            )
            assert await database.count() == 3
        answers = await asyncio.gather(*calls)
    assert len({answer["pid"] for answer in answers}) <= 3


@pytest.mark.parametrize("health_checks", [True, False], ids=["health-checks", "no-checks"])
async def test_a_killed_backend_is_replaced_for_http_views(
    database: Database, threads: Callable[[int], None], health_checks: bool
) -> None:
    """Persistent connection killed: the next request works (with CONN_HEALTH_CHECKS) or at
    most one request fails (without), and the one after gets a new backend."""
    threads(1)
    postgres: dict[str, Any] = settings.DATABASES["postgres"]
    postgres.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=health_checks)
    async with serve(app()) as client:
        first = (await get_json(client, "/db/backend/"))["pid"]
        await asyncio.to_thread(database.kill, first)
        await eventually(lambda: _is(database.count(), 0), "the backend gone")
        statuses = [(await client.get("/db/backend/")).status for _ in range(3)]
        last = (await get_json(client, "/db/backend/"))["pid"]
    assert (
        statuses == [200, 200, 200] if health_checks else statuses in ([500, 200, 200], [200] * 3)
    )
    assert last != first


@pytest.mark.parametrize("health_checks", [True, False], ids=["health-checks", "no-checks"])
async def test_a_killed_backend_is_replaced_for_websockets(
    database: Database, threads: Callable[[int], None], health_checks: bool
) -> None:
    """Persistent connection killed under an open socket: at most one failed call, never more."""
    threads(1)
    postgres: dict[str, Any] = settings.DATABASES["postgres"]
    postgres.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=health_checks)
    async with serve(app()) as client, client.ws_connect("/db/ws/") as ws:
        await ws.send_str("pid")
        first = (await ws.receive_json())["pid"]
        await asyncio.to_thread(database.kill, first)
        await eventually(lambda: _is(database.count(), 0), "the backend gone")
        answers = []
        for _ in range(3):
            await ws.send_str("pid")
            answers.append(await ws.receive_json())
    errors = [answer for answer in answers if "error" in answer]
    assert len(errors) == (0 if health_checks else 1), answers
    assert answers[-1]["pid"] != first


async def test_a_view_without_sync_code_takes_no_thread_and_sends_no_signal(
    database: Database,
) -> None:
    """A pure-async view costs no database thread and sends no request signal."""
    sent: list[str] = []

    def record(signal: str) -> Callable[..., None]:
        return lambda **kwargs: sent.append(signal)

    started, finished = record("started"), record("finished")
    request_started.connect(started)
    request_finished.connect(finished)
    try:
        async with serve(app()) as client:
            for _ in range(3):
                assert (await client.get("/db/hello/")).status == 200
            assert database_threads().started == 0
            await get_json(client, "/db/backend/")
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert sent == ["started", "finished"]


async def test_request_signals_run_on_the_views_database_thread(database: Database) -> None:
    """request_started comes before the view's first query, request_finished after, both on
    the thread that ran the query."""
    seen: list[tuple[str, str]] = []

    def started(**kwargs: Any) -> None:
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs: Any) -> None:
        seen.append(("finished", threading.current_thread().name))

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        async with serve(app()) as client:
            answer = await get_json(client, "/db/backend/")
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert seen == [("started", answer["thread"]), ("finished", answer["thread"])]


async def test_sync_code_outside_a_view_runs_on_a_database_thread(database: Database) -> None:
    """Thread-sensitive calls on the serving loop outside any view borrow a thread per call."""
    async with serve(app()):
        answer = await backend("postgres", None)
        assert str(answer["thread"]).startswith("aiodjango-db-")
        assert database_threads().lent == 0
    await eventually(lambda: _is(database.count(), 0), "the call's connection closed")


async def test_sqlite_writes_from_concurrent_views_and_a_websocket(database: Database) -> None:
    """On SQLite (the default alias), 10 concurrent async views and a socket write rows."""
    async with serve(app()) as client:
        created = await asyncio.gather(
            *(client.post(f"/db/groups/?name=group-{index:02}") for index in range(10))
        )
        assert [response.status for response in created] == [201] * 10
        async with client.ws_connect("/db/ws/?db=default") as ws:
            await ws.send_str("create:from-socket")
            assert "id" in await ws.receive_json()
        listed = await get_json(client, "/db/groups/")
    assert listed["names"] == ["from-socket", *(f"group-{index:02}" for index in range(10))]
    assert await Group.objects.acount() == 11


async def test_a_lease_refuses_work_after_it_closed() -> None:
    """Submitting to a closed lease raises, naming the fix."""
    async with DatabaseLease() as lease:
        pass
    with pytest.raises(RuntimeError, match="enter a new DatabaseLease"):
        lease.submit(print)


def test_database_threads_need_a_positive_size() -> None:
    """A pool of 0 threads is refused, naming the value."""
    with pytest.raises(ValueError, match="size >= 1, got 0"):
        DatabaseThreads(0)


async def test_leases_wait_in_order_for_a_busy_pool() -> None:
    """With one thread, a second lease's call waits (without blocking the loop) for the first."""
    install_router(asyncio.get_running_loop())
    pool = DatabaseThreads(1)
    release = threading.Event()
    order: list[str] = []

    def blocked(name: str) -> str:
        release.wait(20)
        order.append(name)
        return threading.current_thread().name

    async def leased(name: str) -> str:
        async with DatabaseLease(pool):
            return await sync_to_async(blocked)(name)

    first = asyncio.ensure_future(leased("first"))
    second = asyncio.ensure_future(leased("second"))
    await eventually(lambda: _is(_const(pool.waiting), 1), "the second lease waiting")
    assert (pool.started, pool.lent) == (1, 1)
    release.set()
    threads = await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert threads[0] == threads[1]
    assert "1/1 started, 1 idle, 0 waiting" in repr(pool)
    stopping = pool.close()
    assert pool.started == 0
    for thread in stopping:
        await asyncio.to_thread(thread.join, 20)
        assert not thread.is_alive()


async def _const(value: int) -> int:
    return value


async def test_a_failing_request_started_receiver_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request_started receiver that raises is logged on aiodjango.database; the view runs."""
    install_router(asyncio.get_running_loop())

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver broke")

    request_started.connect(broken)
    try:
        async with DatabaseLease(DatabaseThreads(1)):
            assert await sync_to_async(lambda: 42)() == 42
    finally:
        request_started.disconnect(broken)
    assert any(
        record.name == "aiodjango.database" and "receiver broke" in str(record.exc_info)
        for record in caplog.records
    )
