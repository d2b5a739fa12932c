"""Async views and a websocket handler that use the database, for tests/test_database.py.

Each takes the database alias in ``?db=`` (``postgres`` or ``default``, SQLite). ``?lock=K``
makes the query wait for PostgreSQL advisory lock ``K`` first (the test holds it), so the test
can count how many requests wait in the database at once.
"""

from __future__ import annotations

import threading

from aiohttp import web
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.db import connections
from django.views.decorators.csrf import csrf_exempt

from aiodjango import async_view


def _backend(alias: str, lock: int | None) -> dict[str, object]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if lock is not None:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [lock])
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [lock])
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
        else:
            cursor.execute("SELECT 1")
        (pid,) = cursor.fetchone()
    return {"pid": pid, "thread": threading.current_thread().name}


backend = sync_to_async(_backend)  # thread_sensitive, as the async ORM


def _query(request: web.Request) -> tuple[str, int | None]:
    lock = request.query.get("lock")
    return request.query.get("db", "postgres"), None if lock is None else int(lock)


@async_view
async def backend_view(request: web.Request) -> web.Response:
    """The database backend (pid) and thread that served this request's query."""
    return web.json_response(await backend(*_query(request)))


@async_view
@csrf_exempt
async def groups_view(request: web.Request) -> web.Response:
    """POST ``?name=`` creates a Group with the async ORM; GET lists the groups' names."""
    alias = request.query.get("db", "default")
    if request.method == "POST":
        group = await Group.objects.using(alias).acreate(name=request.query["name"])
        return web.json_response({"id": group.pk}, status=201)
    names = [group.name async for group in Group.objects.using(alias).order_by("name")]
    return web.json_response({"names": names})


@async_view
async def hello_view(request: web.Request) -> web.Response:
    """Never touches the database."""
    return web.Response(text="hello")


@async_view(websocket=True)
async def backend_socket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Answers ``pid``, ``lock:K`` (its query's backend) or ``create:NAME`` (a new Group's id).

    A failing query is answered with the exception's class name, and the socket stays open.
    """
    alias = request.query.get("db", "postgres")
    async for message in ws:
        command, _, argument = message.data.partition(":")
        result: dict[str, object]
        try:
            if command == "create":
                group = await Group.objects.using(alias).acreate(name=argument)
                result = {"id": group.pk}
            else:
                result = await backend(alias, int(argument) if argument else None)
        except Exception as exc:
            result = {"error": type(exc).__name__}
        await ws.send_json(result)
