"""Views of the serving tests' project. test_commands edits the two ``VERSION`` strings."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from django.apps import apps
from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt

from aiodjango import async_view, get_user, groups


def sync_page(request: HttpRequest) -> HttpResponse:
    """A Django view."""
    return HttpResponse("sync VERSION-1")


@async_view
async def async_page(request: web.Request) -> web.Response:
    """An aiohttp view."""
    return web.Response(text="async VERSION-1")


@async_view(websocket=True)
async def echo(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Echoes text frames until the client or the server closes."""
    async for message in ws:
        await ws.send_str(message.data)


def slow(request: HttpRequest) -> HttpResponse:
    """A Django view sleeping ``?s=`` seconds: it must finish during a graceful shutdown.

    It first creates the file ``?started=`` names, so a test knows the request is in flight.
    """
    seconds = float(request.GET.get("s", "1"))
    if "started" in request.GET:
        Path(request.GET["started"]).touch()
    time.sleep(seconds)
    return HttpResponse(f"slept {seconds}")


def fail(request: HttpRequest) -> HttpResponse:
    """A Django view that raises: django.request logs it at ERROR (a 500 page)."""
    raise RuntimeError("this view fails on purpose")


@csrf_exempt
def body_size(request: HttpRequest) -> HttpResponse:
    """The length of the body Django received."""
    return HttpResponse(str(len(request.body)))


@async_view
async def async_body_size(request: web.Request) -> web.Response:
    """The length of the body an async view read."""
    return web.Response(text=str(len(await request.read())))


class BlockingHandler(logging.Handler):
    """Sleeps ``SERVING_BLOCKING_LOG`` seconds per record, as a synchronous mail handler may,
    then appends the record's message to the file ``SERVING_LOG_FILE`` names."""

    def emit(self, record: logging.LogRecord) -> None:
        time.sleep(float(os.environ["SERVING_BLOCKING_LOG"]))
        with Path(os.environ["SERVING_LOG_FILE"]).open("a") as out:
            out.write(record.getMessage() + "\n")


@async_view(websocket=True)
async def room(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Joins group "room", then says ``{"pid": <worker pid>}``; publishes every text frame."""
    if apps.is_installed("django.contrib.auth"):
        await get_user(request)  # ties the socket to its user: logout closes it
    await groups.add("room", ws)
    await ws.send_json({"pid": os.getpid()})
    async for message in ws:
        await groups.publish("room", message.data)


def publish(request: HttpRequest) -> HttpResponse:
    """A Django view publishing ``?text=`` to "room" with the sync API."""
    groups.publish_sync("room", request.GET["text"])
    return HttpResponse("published")


def group_stats(request: HttpRequest) -> JsonResponse:
    """This worker's groups counters, with its pid."""
    return JsonResponse({"pid": os.getpid(), **dataclasses.asdict(groups.stats())})


@csrf_exempt
def log_in(request: HttpRequest) -> HttpResponse:
    """POST username and password: logs in and answers the CSRF token (for Django's logout)."""
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    return HttpResponse(get_token(request))


def worker_pid_header(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., object]:
    """Middleware: every Django response says which worker served it (``X-Worker-Pid``)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware
